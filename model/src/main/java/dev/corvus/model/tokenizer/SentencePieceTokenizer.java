package dev.corvus.model.tokenizer;

import dev.corvus.model.CheckpointException;
import dev.corvus.model.SegmentCursor;
import dev.corvus.model.Tokenizer;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * A SentencePiece vocabulary with score-greedy BPE (llama.cpp's SPM tokenizer, which llama2.c's
 * encoder also is): the text, with a space in front when the vocabulary asks for one, is split
 * into characters, then the adjacent pair whose concatenation is the best-scoring token is
 * merged (leftmost on ties) until no pair is a token. A character that is not a token falls
 * back to its UTF-8 bytes' byte tokens ("&lt;0xE6&gt;"), else to the unknown token.
 *
 * <p>Two sources: GGUF vocabularies spell spaces as U+2581 and any token may come out of a
 * merge, as in llama.cpp; llama2.c's {@code tokenizer.bin} stores plain spaces, and as llama2.c
 * only normal and user-defined tokens merge, merges scored at or below -1e10 never happen, and
 * special tokens are not looked for in the text.
 */
public final class SentencePieceTokenizer extends AbstractTokenizer {
    /** Longest token record a tokenizer.bin may hold, as a guard against corrupt lengths. */
    static final int MAX_PIECE_BYTES = 1 << 16;
    /** llama2.c's floor: merges scored at or below it are never chosen. */
    private static final float LLAMA2C_MIN_SCORE = -1e10f;

    private final float[] scores;
    private final Map<String, Integer> ids; // texts merges may form
    private final int[] byteToken = new int[256]; // byte -> token, -1 if none
    private final int[] tokenByte;                // token -> byte, -1 if not a byte token
    private final boolean addSpacePrefix;
    private final boolean spaceMarker; // spaces in the text are spelled U+2581 before lookup
    private final float minScore;

    private SentencePieceTokenizer(Vocab v, byte[][] pieces, float[] scores, Map<String, Integer> ids, int[] tokenByte,
            boolean addSpacePrefix, boolean spaceMarker, float minScore) {
        super(v, pieces);
        this.scores = scores;
        this.ids = ids;
        this.tokenByte = tokenByte;
        this.addSpacePrefix = addSpacePrefix;
        this.spaceMarker = spaceMarker;
        this.minScore = minScore;
        Arrays.fill(byteToken, -1);
        for (int id = 0; id < tokenByte.length; id++) if (tokenByte[id] >= 0 && byteToken[tokenByte[id]] < 0) byteToken[tokenByte[id]] = id;
    }

    /**
     * A GGUF vocabulary (tokenizer.ggml.model "llama"). Byte tokens must read "&lt;0xXX&gt;";
     * the byte fallback looks them up by that text, as llama.cpp does.
     */
    static SentencePieceTokenizer gguf(Vocab v, float[] scores, boolean addSpacePrefix) {
        int n = v.size();
        Map<String, Integer> ids = HashMap.newHashMap(n);
        byte[][] pieces = new byte[n][];
        int[] tokenByte = new int[n];
        for (int id = 0; id < n; id++) {
            String text = v.texts[id];
            ids.put(text, id);
            tokenByte[id] = -1;
            if (v.types[id] == TokenType.BYTE) {
                int b = Tokenizer.parseByteToken(text);
                if (b < 0) throw new IllegalArgumentException("byte token " + id + " reads \"" + text + "\", not <0xXX>");
                tokenByte[id] = b;
                pieces[id] = new byte[] {(byte) b};
            } else {
                pieces[id] = (v.types[id] == TokenType.NORMAL ? text.replace('\u2581', ' ') : text).getBytes(StandardCharsets.UTF_8);
            }
        }
        SentencePieceTokenizer t = new SentencePieceTokenizer(v, pieces, scores.clone(), ids, tokenByte, addSpacePrefix, true, Float.NEGATIVE_INFINITY);
        // the fallback for a byte goes by text, whatever the token's kind, then to a one-byte token
        for (int b = 0; b < 256; b++) {
            Integer id = ids.get(Tokenizer.byteTokenText(b));
            if (id == null && b < 0x80) id = ids.get(String.valueOf((char) b));
            t.byteToken[b] = id == null ? -1 : id;
        }
        return t;
    }

    /**
     * A llama2.c vocabulary: {@code pieces} are raw bytes with plain spaces; byte tokens stand
     * for {@code byteOf[id]} whatever their stored text.
     */
    static SentencePieceTokenizer llama2c(List<byte[]> pieces, float[] scores, TokenType[] types, int[] byteOf, int bos, int eos, int unk) {
        int n = pieces.size();
        Vocab v = new Vocab();
        v.texts = new String[n];
        v.types = types.clone();
        v.bos = bos;
        v.eos = eos;
        v.unk = unk;
        v.addBos = true;
        // llama2.c's run stops at either: BOS separates the stories it was trained on
        v.eog.set(bos);
        v.eog.set(eos);
        v.specialsInText = false;
        Map<String, Integer> ids = HashMap.newHashMap(n);
        byte[][] rendered = new byte[n][];
        int[] tokenByte = new int[n];
        for (int id = 0; id < n; id++) {
            String piece = new String(pieces.get(id), StandardCharsets.UTF_8);
            tokenByte[id] = types[id] == TokenType.BYTE ? byteOf[id] : -1;
            rendered[id] = types[id] == TokenType.BYTE ? new byte[] {(byte) byteOf[id]} : pieces.get(id).clone();
            v.texts[id] = switch (types[id]) {
                case BYTE -> Tokenizer.byteTokenText(byteOf[id]);
                case CONTROL -> piece.strip();
                default -> piece.replace(' ', '\u2581');
            };
            if (types[id] == TokenType.NORMAL || types[id] == TokenType.USER_DEFINED) ids.putIfAbsent(piece, id);
        }
        return new SentencePieceTokenizer(v, rendered, scores.clone(), ids, tokenByte, ids.containsKey(" "), false, LLAMA2C_MIN_SCORE);
    }

    // ---------------------------------------------------------------- llama2.c tokenizer.bin

    /** Reads llama2.c's {@code tokenizer.bin}; {@code vocabSize} -1 reads as many tokens as it holds. */
    public static Tokenizer loadLlama2c(Path file, int vocabSize) throws IOException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new CheckpointException(file, "no such file");
        }
        return readLlama2c(file, bytes, vocabSize);
    }

    /**
     * Parses tokenizer.bin bytes: int32 max_token_length, then per token float32 score, int32
     * length, bytes. Ids 0, 1, 2 are unknown, BOS and EOS; 3..258 are the byte fallback tokens
     * for bytes 0..255. {@code vocabSize} -1 reads to the end.
     */
    public static Tokenizer readLlama2c(Path file, byte[] bytes, int vocabSize) throws CheckpointException {
        SegmentCursor in = new SegmentCursor(file, MemorySegment.ofArray(bytes));
        if (bytes.length < 4) throw new CheckpointException(file, "truncated: a tokenizer.bin starts with an int32 max_token_length, but the file has " + bytes.length + " bytes");
        int maxLength = in.i32("max_token_length");
        if (maxLength <= 0 || maxLength > MAX_PIECE_BYTES) {
            throw new CheckpointException(file, "not a llama2.c tokenizer: max_token_length is " + maxLength + " (expected 1.." + MAX_PIECE_BYTES + ")");
        }
        List<byte[]> pieces = new ArrayList<>(Math.max(0, vocabSize));
        float[] scoreList = new float[Math.max(16, vocabSize)];
        // The labels naming a field in errors are built only for a read that fails: spelled for
        // each of the 32,000 tokens, their concatenations were a good part of loading this file at
        // launch, when the loop still runs interpreted (and C2 then spent its first compiles on them).
        while (vocabSize < 0 ? in.remaining() > 0 : pieces.size() < vocabSize) {
            int id = pieces.size();
            if (in.remaining() < 8) {
                in.f32("score of token " + id);
                in.i32("length of token " + id);
            }
            float score = in.f32("score");
            int length = in.i32("length");
            if (length < 0 || length > maxLength) {
                throw new CheckpointException(file, "token " + id + " at offset " + (in.position() - 4) + " has length " + length
                        + " (max_token_length is " + maxLength + ")");
            }
            if (in.remaining() < length) in.bytes(length, "token " + id);
            pieces.add(in.bytes(length, "token"));
            if (id == scoreList.length) scoreList = Arrays.copyOf(scoreList, 2 * id);
            scoreList[id] = score;
        }
        if (in.remaining() > 0) {
            throw new CheckpointException(file, "trailing bytes: " + in.remaining() + " bytes after the " + vocabSize + " tokens the model expects");
        }
        int n = pieces.size();
        if (n < 3) throw new CheckpointException(file, "a llama2.c tokenizer needs at least <unk>, BOS and EOS, found " + n + " tokens");
        float[] scores = new float[n];
        TokenType[] types = new TokenType[n];
        int[] byteOf = new int[n];
        for (int id = 0; id < n; id++) {
            scores[id] = scoreList[id];
            byteOf[id] = -1;
            types[id] = switch (id) {
                case 0 -> TokenType.UNKNOWN;
                case 1, 2 -> TokenType.CONTROL;
                default -> TokenType.NORMAL;
            };
            if (id >= 3 && id <= 258) {
                types[id] = TokenType.BYTE;
                int parsed = Tokenizer.parseByteToken(new String(pieces.get(id), StandardCharsets.ISO_8859_1));
                byteOf[id] = parsed >= 0 ? parsed : id - 3;
            }
        }
        return llama2c(pieces, scores, types, byteOf, 1, 2, 0);
    }

    // ---------------------------------------------------------------- properties

    @Override
    public float score(int id) {
        return scores[checkId(id)];
    }

    @Override
    public int byteValue(int id) {
        return tokenByte[checkId(id)];
    }

    /** Whether a space goes before the text (tokenizer.ggml.add_space_prefix). */
    public boolean addSpacePrefix() {
        return addSpacePrefix;
    }

    @Override
    boolean dropsSpaceAfter(int previous) {
        return addSpacePrefix && (previous < 0 || isSpecial(previous));
    }

    // ---------------------------------------------------------------- encoding

    private record Bigram(float score, int left, int right, int size) {}

    @Override
    void encodeText(String text, boolean afterSpecial, IntList out) {
        String t = addSpacePrefix && afterSpecial ? " " + text : text;
        if (spaceMarker) t = t.replace(' ', '\u2581');
        int n = t.codePointCount(0, t.length());
        if (n == 0) return;
        int[] start = new int[n], len = new int[n], prev = new int[n], next = new int[n];
        for (int i = 0, c = 0; i < n; i++) {
            start[i] = c;
            len[i] = Character.charCount(t.codePointAt(c));
            c += len[i];
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        // best score first, leftmost on ties; entries made stale by a merge are skipped by size
        PriorityQueue<Bigram> queue = new PriorityQueue<>((a, b) -> a.score != b.score ? Float.compare(b.score, a.score) : Integer.compare(a.left, b.left));
        for (int i = 1; i < n; i++) offer(queue, t, start, len, i - 1, i);
        while (!queue.isEmpty()) {
            Bigram b = queue.poll();
            int l = b.left, r = b.right;
            if (len[l] == 0 || len[r] == 0 || len[l] + len[r] != b.size) continue;
            len[l] += len[r];
            len[r] = 0;
            next[l] = next[r];
            if (next[r] >= 0) prev[next[r]] = l;
            offer(queue, t, start, len, prev[l], l);
            offer(queue, t, start, len, l, next[l]);
        }
        for (int i = 0; i >= 0; i = next[i]) {
            String symbol = t.substring(start[i], start[i] + len[i]);
            Integer id = ids.get(symbol);
            if (id != null) {
                out.add(id);
                continue;
            }
            for (byte b : symbol.getBytes(StandardCharsets.UTF_8)) {
                int bt = byteToken[b & 0xFF];
                if (bt >= 0) out.add(bt);
                else if (unknownId() >= 0) out.add(unknownId()); // else there is no way to spell it: dropped
            }
        }
    }

    private void offer(PriorityQueue<Bigram> queue, String t, int[] start, int[] len, int l, int r) {
        if (l < 0 || r < 0) return;
        Integer id = ids.get(t.substring(start[l], start[r] + len[r]));
        if (id == null || !(scores[id] > minScore)) return;
        queue.add(new Bigram(scores[id], l, r, len[l] + len[r]));
    }
}
