package dev.corvus.train;

import dev.corvus.model.ModelStore;
import dev.corvus.model.Tokenizer;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Text tokenised with a model's tokenizer and packed into training sequences of seqLen + 1 tokens
 * (seqLen inputs, each predicting the next): every document starts with the BOS token and
 * documents follow one another without padding; a remainder shorter than a sequence at the end
 * is dropped. A document is a run of text between blank lines. A seed fixes both which sequences
 * are held out for validation and the order the training ones are read in each pass (a new
 * shuffle per pass), and {@link #position()} records where reading stands.
 */
public final class TokenDataset implements DataSource<int[]> {
    private final int[] tokens;
    private final int sequenceTokens;
    private final int[] train, validation;
    private final long seed;
    private int[] order;
    private long epoch, index;

    private TokenDataset(TokenDataset other) {
        tokens = other.tokens;
        sequenceTokens = other.sequenceTokens;
        seed = other.seed;
        train = other.train;
        validation = other.validation;
        order = epochOrder(0);
    }

    /**
     * The same sequences, split and seed, read from the start: what each rank of a
     * sequence-parallel run iterates (every rank must see the same sequences in the same order),
     * sharing the tokens rather than tokenising the text again.
     */
    public TokenDataset copy() {
        return new TokenDataset(this);
    }

    private TokenDataset(int[] tokens, int seqLen, double validationFraction, long seed, String source) {
        this.tokens = tokens;
        this.sequenceTokens = seqLen + 1;
        this.seed = seed;
        int count = tokens.length / sequenceTokens;
        int held = validationFraction == 0 ? 0 : Math.max(1, (int) Math.round(validationFraction * count));
        if (count - held < 1) {
            throw new IllegalArgumentException(source + " gives " + tokens.length + " tokens, " + count + " sequence(s) of " + sequenceTokens
                    + " tokens; need at least " + (held + 1) + " (" + held + " held out for validation): give more text or a shorter sequence length");
        }
        int[] all = new int[count];
        for (int i = 0; i < count; i++) all[i] = i;
        shuffle(all, new SplittableRandom(seed));
        validation = Arrays.copyOfRange(all, 0, held);
        train = Arrays.copyOfRange(all, held, count);
        Arrays.sort(validation);
        Arrays.sort(train);
        order = epochOrder(0);
    }

    /**
     * Reads UTF-8 text {@code files}, tokenises it and packs it into sequences of seqLen + 1
     * tokens; {@code validationFraction} of them (at least one, when not 0) are held out.
     */
    public static TokenDataset fromFiles(List<Path> files, Tokenizer tokenizer, int seqLen, double validationFraction, long seed) throws IOException {
        if (files.isEmpty()) throw new IllegalArgumentException("no data files given");
        List<String> documents = new ArrayList<>();
        for (Path f : files) {
            String text;
            try {
                text = Files.readString(f);
            } catch (CharacterCodingException e) {
                throw new IOException("data file " + f + " is not UTF-8 text (" + e.getMessage() + ")", e);
            } catch (IOException e) {
                throw new IOException("cannot read data file " + f + ": " + e.getMessage(), e);
            }
            documents.addAll(documents(text));
        }
        return fromDocuments(documents, tokenizer, seqLen, validationFraction, seed, "the data files " + files);
    }

    /** As {@link #fromFiles}, from documents already in memory. */
    public static TokenDataset fromDocuments(List<String> documents, Tokenizer tokenizer, int seqLen, double validationFraction, long seed) {
        return fromDocuments(documents, tokenizer, seqLen, validationFraction, seed, documents.size() + " document(s)");
    }

    private static TokenDataset fromDocuments(List<String> documents, Tokenizer tokenizer, int seqLen, double validationFraction, long seed,
            String source) {
        if (seqLen < 1) throw new IllegalArgumentException("sequence length " + seqLen + " must be positive");
        if (!(validationFraction >= 0 && validationFraction < 1)) {
            throw new IllegalArgumentException("validation fraction " + validationFraction + " must be in [0, 1)");
        }
        int bos = tokenizer.bosId();
        List<int[]> encoded = new ArrayList<>(documents.size());
        long total = 0;
        for (String doc : documents) {
            // the text as written: "<s>" in a document is text, not the control token
            int[] ids = tokenizer.encode(doc, bos >= 0, false, false);
            encoded.add(ids);
            total += ids.length;
        }
        if (total > Integer.MAX_VALUE - 8) throw new IllegalArgumentException(source + " gives " + total + " tokens, more than one dataset holds");
        int[] packed = new int[(int) total];
        int at = 0;
        for (int[] ids : encoded) {
            System.arraycopy(ids, 0, packed, at, ids.length);
            at += ids.length;
        }
        return new TokenDataset(packed, seqLen, validationFraction, seed, source);
    }

    /** The documents of a text: runs of non-blank lines between blank lines, trimmed of the line breaks around them. */
    public static List<String> documents(String text) {
        List<String> docs = new ArrayList<>();
        for (String part : text.split("\\R\\s*\\R")) {
            String doc = part.strip();
            if (!doc.isEmpty()) docs.add(doc);
        }
        return docs;
    }

    /**
     * Where scripts/training-data.sh puts Debian's fortunes as one text: {@code data/fortunes.txt}
     * in the model cache ({@code -Dcorvus.cache}, else {@code $CORVUS_CACHE}, else
     * {@code ~/.cache/corvus}).
     */
    public static Path fortunesFile() {
        return ModelStore.defaultCacheDir().resolve("data").resolve("fortunes.txt");
    }

    /** Tokens in each sequence: seqLen + 1. */
    public int sequenceTokens() {
        return sequenceTokens;
    }

    public int trainSequences() {
        return train.length;
    }

    public int validationSequences() {
        return validation.length;
    }

    /** Every token of the packed stream (BOS tokens included), before the remainder is dropped. */
    public int totalTokens() {
        return tokens.length;
    }

    /** Held-out sequence {@code i} (a copy). */
    public int[] validation(int i) {
        return sequence(validation[i]);
    }

    /** The next training sequence (a copy) in this pass's order; a new pass starts with a new shuffle. */
    @Override
    public int[] next() {
        if (index == train.length) {
            epoch++;
            index = 0;
            order = epochOrder(epoch);
        }
        return sequence(order[(int) index++]);
    }

    @Override
    public Position position() {
        if (index == train.length) return new Position(epoch + 1, 0);
        return new Position(epoch, index);
    }

    @Override
    public void seek(Position position) {
        if (position.index() >= train.length) {
            throw new IllegalArgumentException("data position " + position + " is past the " + train.length + " training sequences of a pass");
        }
        epoch = position.epoch();
        index = position.index();
        order = epochOrder(epoch);
    }

    @Override
    public long seed() {
        return seed;
    }

    private int[] sequence(int s) {
        return Arrays.copyOfRange(tokens, s * sequenceTokens, (s + 1) * sequenceTokens);
    }

    private int[] epochOrder(long pass) {
        int[] o = train.clone();
        shuffle(o, new SplittableRandom(seed ^ (0x9E3779B97F4A7C15L * (pass + 1))));
        return o;
    }

    /** Fisher-Yates: every permutation equally likely, fixed by the random's seed. */
    static void shuffle(int[] a, SplittableRandom random) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = random.nextInt(i + 1), t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }
}
