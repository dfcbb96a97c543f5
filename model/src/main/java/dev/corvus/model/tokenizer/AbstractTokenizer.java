package dev.corvus.model.tokenizer;

import dev.corvus.model.Tokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Comparator;
import java.util.List;

/**
 * The part of llama.cpp's {@code llama_tokenize} that does not depend on the model: special
 * tokens written in the text are cut out first (longest first), the raw text between them goes
 * to the model's encoder, and BOS/EOS are added around. Also the special ids, kinds and pieces.
 */
public abstract sealed class AbstractTokenizer implements Tokenizer permits SentencePieceTokenizer, BpeTokenizer {
    final String[] texts;
    final TokenType[] types;
    /** What each token stands for in text, before any leading space is dropped. */
    final byte[][] pieces;
    private final int bos, eos, eot, eom, unk, pad;
    private final boolean addBos, addEos;
    private final BitSet eog;
    private final int[] eogIds;
    private final BitSet lstrip, rstrip;
    /** Control, user-defined and unknown tokens, longest text first, ties by id. */
    private final int[] specials;

    AbstractTokenizer(Vocab v, byte[][] pieces) {
        int n = v.size();
        this.texts = v.texts;
        this.types = v.types;
        this.pieces = pieces;
        this.bos = v.bos;
        this.eos = v.eos;
        this.eot = v.eot;
        this.eom = v.eom;
        this.unk = v.unk;
        this.pad = v.pad;
        this.addBos = v.addBos;
        this.addEos = v.addEos;
        this.eog = (BitSet) v.eog.clone();
        this.eogIds = eog.stream().toArray();
        this.lstrip = (BitSet) v.lstrip.clone();
        this.rstrip = (BitSet) v.rstrip.clone();
        List<Integer> special = new ArrayList<>();
        if (v.specialsInText) {
            for (int id = 0; id < n; id++) {
                TokenType t = types[id];
                if ((t == TokenType.CONTROL || t == TokenType.USER_DEFINED || t == TokenType.UNKNOWN) && !texts[id].isEmpty()) special.add(id);
            }
            special.sort(Comparator.<Integer>comparingInt(id -> -texts[id].length()).thenComparingInt(id -> id));
        }
        this.specials = special.stream().mapToInt(Integer::intValue).toArray();
    }

    // ---------------------------------------------------------------- properties

    @Override
    public final int vocabSize() {
        return texts.length;
    }

    @Override
    public final int bosId() {
        return bos;
    }

    @Override
    public final int eosId() {
        return eos;
    }

    @Override
    public final int eotId() {
        return eot;
    }

    @Override
    public final int eomId() {
        return eom;
    }

    @Override
    public final int unknownId() {
        return unk;
    }

    @Override
    public final int padId() {
        return pad;
    }

    @Override
    public final boolean addBos() {
        return addBos;
    }

    @Override
    public final boolean addEos() {
        return addEos;
    }

    @Override
    public final boolean isEndOfGeneration(int id) {
        return id >= 0 && eog.get(id);
    }

    @Override
    public final int[] endOfGenerationIds() {
        return eogIds.clone();
    }

    @Override
    public final TokenType type(int id) {
        return types[checkId(id)];
    }

    @Override
    public final String tokenText(int id) {
        return texts[checkId(id)];
    }

    @Override
    public final byte[] piece(int id) {
        return pieces[checkId(id)].clone();
    }

    final int checkId(int id) {
        if (id < 0 || id >= texts.length) throw new IndexOutOfBoundsException("token id " + id + " is outside the vocabulary of " + texts.length);
        return id;
    }

    // ---------------------------------------------------------------- encoding

    @Override
    public final int[] encode(String text, boolean bos, boolean eos, boolean parseSpecial) {
        IntList out = new IntList();
        if (bos) out.add(required(this.bos, "BOS"));
        boolean afterSpecial = true;
        for (Object fragment : partition(text, parseSpecial)) {
            if (fragment instanceof String raw) {
                encodeText(raw, afterSpecial, out);
                afterSpecial = false;
            } else {
                out.add((Integer) fragment);
                afterSpecial = true;
            }
        }
        if (eos) out.add(required(this.eos, "EOS"));
        return out.toArray();
    }

    private int required(int id, String what) {
        if (id < 0) throw new IllegalArgumentException("this vocabulary has no " + what + " token");
        return id;
    }

    /**
     * Appends the tokens of raw text (no special tokens cut out of it); {@code afterSpecial}:
     * it starts the text or follows a special token.
     */
    abstract void encodeText(String text, boolean afterSpecial, IntList out);

    /**
     * The text cut into raw strings and special-token ids (Integer), as llama.cpp's
     * {@code tokenizer_st_partition}: for each special token, longest first, every occurrence in
     * every remaining raw piece is cut out. Without {@code parseSpecial} only user-defined
     * tokens are.
     */
    final List<Object> partition(String text, boolean parseSpecial) {
        List<Object> fragments = new ArrayList<>();
        if (text.isEmpty()) return fragments;
        fragments.add(text);
        for (int id : specials) {
            if (!parseSpecial && types[id] != TokenType.USER_DEFINED) continue;
            String s = texts[id];
            if (!text.contains(s)) continue;
            List<Object> next = new ArrayList<>(fragments.size() + 2);
            for (Object f : fragments) {
                if (!(f instanceof String raw)) {
                    next.add(f);
                    continue;
                }
                int from = 0;
                for (int at; (at = raw.indexOf(s, from)) >= 0; ) {
                    int leftEnd = at;
                    if (lstrip.get(id)) while (leftEnd > from && isCSpace(raw.charAt(leftEnd - 1))) leftEnd--;
                    if (leftEnd > from) next.add(raw.substring(from, leftEnd));
                    next.add(id);
                    from = at + s.length();
                    if (rstrip.get(id)) while (from < raw.length() && isCSpace(raw.charAt(from))) from++;
                }
                if (from < raw.length()) next.add(from == 0 ? raw : raw.substring(from));
            }
            fragments = next;
        }
        return fragments;
    }

    /** C's isspace: the ASCII whitespace llama.cpp strips around special tokens. */
    private static boolean isCSpace(char c) {
        return c == ' ' || (c >= '\t' && c <= '\r');
    }

    // ---------------------------------------------------------------- decoding

    @Override
    public final byte[] decodeBytes(int previous, int token) {
        byte[] p = pieces[checkId(token)];
        if (p.length > 0 && p[0] == ' ' && types[token] != TokenType.BYTE && dropsSpaceAfter(previous)) return Arrays.copyOfRange(p, 1, p.length);
        return p.clone();
    }

    /**
     * Whether the encoder put a space before the text that follows {@code previous}: the
     * SentencePiece space prefix, at the start (-1) and after special tokens.
     */
    boolean dropsSpaceAfter(int previous) {
        return false;
    }

    final boolean isSpecial(int id) {
        TokenType t = types[id];
        return t == TokenType.CONTROL || t == TokenType.USER_DEFINED;
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[" + texts.length + " tokens, bos=" + bos + ", eos=" + eos + ", end of generation " + Arrays.toString(eogIds) + "]";
    }
}
