package dev.corvus.model;

import java.io.ByteArrayOutputStream;
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

/**
 * A SentencePiece-style vocabulary with llama2.c's greedy BPE: the text gets a leading space
 * token, is split into UTF-8 characters (unknown ones fall back to byte tokens), then the
 * adjacent pair whose merge has the highest score is merged until none is in the vocabulary.
 *
 * <p>Pieces are raw bytes with the SentencePiece space marker already turned into a plain space,
 * as llama2.c's {@code tokenizer.bin} stores them. Byte tokens ({@link TokenType#BYTE}) stand for
 * one raw byte whatever their stored text ("&lt;0x0A&gt;", or in old llama2.c exports the byte's
 * own character); they, control and unknown tokens never come out of a merge.
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class Tokenizer {
    /** Token kinds, numbered as GGUF's {@code tokenizer.ggml.token_type}. */
    public enum TokenType {
        NORMAL(1), UNKNOWN(2), CONTROL(3), USER_DEFINED(4), UNUSED(5), BYTE(6);

        private final int id;

        TokenType(int id) {
            this.id = id;
        }

        public int id() {
            return id;
        }

        /** The type with GGUF id {@code id}; unknown ids read as NORMAL. */
        public static TokenType of(int id) {
            for (TokenType t : values()) if (t.id == id) return t;
            return NORMAL;
        }
    }

    /** Longest token record a tokenizer.bin may hold, as a guard against corrupt lengths. */
    static final int MAX_PIECE_BYTES = 1 << 16;

    private final String[] pieces; // one char per byte (ISO-8859-1), so lookups are byte-exact
    private final float[] scores;
    private final TokenType[] types;
    private final int bosId;
    private final int eosId;
    private final int unknownId;
    private final int[] byteToken = new int[256]; // byte -> token, -1 if none
    private final int[] tokenByte;                // token -> byte, -1 if not a byte token
    private final Map<String, Integer> ids;       // mergeable pieces (normal and user-defined)
    private final int spaceId;

    /**
     * @param pieces    token bytes, space as ' '
     * @param types     kinds; byte tokens must read "&lt;0xXX&gt;" unless {@code byteOf} gives their byte
     * @param byteOf    for each token the byte it stands for, or -1 (null: parse "&lt;0xXX&gt;" pieces)
     * @param unknownId token for bytes with no byte token, or -1
     */
    public Tokenizer(List<byte[]> pieces, float[] scores, TokenType[] types, int[] byteOf, int bosId, int eosId, int unknownId) {
        int n = pieces.size();
        if (n == 0) throw new IllegalArgumentException("tokenizer: empty vocabulary");
        if (scores.length != n || types.length != n || (byteOf != null && byteOf.length != n)) {
            throw new IllegalArgumentException("tokenizer: " + n + " pieces but " + scores.length + " scores and " + types.length + " types"
                    + (byteOf == null ? "" : " and " + byteOf.length + " byte values"));
        }
        for (int id : new int[] {bosId, eosId}) {
            if (id < 0 || id >= n) throw new IllegalArgumentException("tokenizer: special token id " + id + " is outside the vocabulary of " + n);
        }
        if (unknownId < -1 || unknownId >= n) throw new IllegalArgumentException("tokenizer: unknown-token id " + unknownId + " is outside the vocabulary of " + n);
        this.pieces = new String[n];
        this.scores = scores.clone();
        this.types = types.clone();
        this.bosId = bosId;
        this.eosId = eosId;
        this.unknownId = unknownId;
        this.tokenByte = new int[n];
        Arrays.fill(byteToken, -1);
        this.ids = HashMap.newHashMap(n);
        for (int id = 0; id < n; id++) {
            String piece = new String(pieces.get(id), StandardCharsets.ISO_8859_1);
            this.pieces[id] = piece;
            int b = -1;
            if (types[id] == TokenType.BYTE) {
                b = byteOf != null && byteOf[id] >= 0 ? byteOf[id] : parseByteToken(piece);
                if (b < 0 || b > 255) throw new IllegalArgumentException("tokenizer: byte token " + id + " reads \"" + piece + "\", not <0xXX>");
                if (byteToken[b] < 0) byteToken[b] = id;
            } else if (types[id] == TokenType.NORMAL || types[id] == TokenType.USER_DEFINED) {
                ids.putIfAbsent(piece, id);
            }
            tokenByte[id] = b;
        }
        this.spaceId = ids.getOrDefault(" ", -1);
    }

    /** The byte of a "&lt;0xXX&gt;" piece, or -1. */
    public static int parseByteToken(String piece) {
        if (piece.length() != 6 || !piece.startsWith("<0x") || piece.charAt(5) != '>') return -1;
        int hi = Character.digit(piece.charAt(3), 16), lo = Character.digit(piece.charAt(4), 16);
        return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
    }

    // ---------------------------------------------------------------- llama2.c tokenizer.bin

    /** Reads llama2.c's {@code tokenizer.bin}, which must hold exactly {@code vocabSize} tokens. */
    public static Tokenizer loadLlama2c(Path file, int vocabSize) throws IOException {
        return readLlama2c(file, readFile(file), vocabSize);
    }

    /** Reads llama2.c's {@code tokenizer.bin}, as many tokens as it holds. */
    public static Tokenizer loadLlama2c(Path file) throws IOException {
        return readLlama2c(file, readFile(file), -1);
    }

    private static byte[] readFile(Path file) throws IOException {
        try {
            return Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new CheckpointException(file, "no such file");
        }
    }

    /**
     * Parses tokenizer.bin bytes: int32 max_token_length, then per token float32 score, int32
     * length, bytes. Ids 0, 1, 2 are unknown, BOS and EOS; 3..258 are the byte fallback tokens
     * for bytes 0..255. {@code vocabSize} -1 reads to the end.
     */
    static Tokenizer readLlama2c(Path file, byte[] bytes, int vocabSize) throws CheckpointException {
        SegmentCursor in = new SegmentCursor(file, MemorySegment.ofArray(bytes));
        if (bytes.length < 4) throw new CheckpointException(file, "truncated: a tokenizer.bin starts with an int32 max_token_length, but the file has " + bytes.length + " bytes");
        int maxLength = in.i32("max_token_length");
        if (maxLength <= 0 || maxLength > MAX_PIECE_BYTES) {
            throw new CheckpointException(file, "not a llama2.c tokenizer: max_token_length is " + maxLength + " (expected 1.." + MAX_PIECE_BYTES + ")");
        }
        List<byte[]> pieces = new ArrayList<>();
        List<Float> scoreList = new ArrayList<>();
        while (vocabSize < 0 ? in.remaining() > 0 : pieces.size() < vocabSize) {
            int id = pieces.size();
            float score = in.f32("score of token " + id);
            int length = in.i32("length of token " + id);
            if (length < 0 || length > maxLength) {
                throw new CheckpointException(file, "token " + id + " at offset " + (in.position() - 4) + " has length " + length
                        + " (max_token_length is " + maxLength + ")");
            }
            pieces.add(in.bytes(length, "token " + id));
            scoreList.add(score);
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
            scores[id] = scoreList.get(id);
            byteOf[id] = -1;
            types[id] = switch (id) {
                case 0 -> TokenType.UNKNOWN;
                case 1, 2 -> TokenType.CONTROL;
                default -> TokenType.NORMAL;
            };
            if (id >= 3 && id <= 258) {
                types[id] = TokenType.BYTE;
                int parsed = parseByteToken(new String(pieces.get(id), StandardCharsets.ISO_8859_1));
                byteOf[id] = parsed >= 0 ? parsed : id - 3;
            }
        }
        return new Tokenizer(pieces, scores, types, byteOf, 1, 2, 0);
    }

    // ---------------------------------------------------------------- properties

    public int vocabSize() {
        return pieces.length;
    }

    public int bosId() {
        return bosId;
    }

    public int eosId() {
        return eosId;
    }

    /** The unknown token, or -1. */
    public int unknownId() {
        return unknownId;
    }

    /** The stored bytes of a token (space as ' '). */
    public byte[] piece(int id) {
        return pieces[checkId(id)].getBytes(StandardCharsets.ISO_8859_1);
    }

    public float score(int id) {
        return scores[checkId(id)];
    }

    public TokenType type(int id) {
        return types[checkId(id)];
    }

    /** The raw byte a byte token stands for, or -1 for other tokens. */
    public int byteValue(int id) {
        return tokenByte[checkId(id)];
    }

    private int checkId(int id) {
        if (id < 0 || id >= pieces.length) throw new IndexOutOfBoundsException("token id " + id + " is outside the vocabulary of " + pieces.length);
        return id;
    }

    // ---------------------------------------------------------------- encoding

    /** Token ids of {@code text}, as llama2.c's encode: optional BOS, dummy space, BPE merges, optional EOS. */
    public int[] encode(String text, boolean bos, boolean eos) {
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        int[] tokens = new int[utf8.length + 3];
        int n = 0;
        if (bos) tokens[n++] = bosId;
        int first = n;
        if (utf8.length > 0 && spaceId >= 0) tokens[n++] = spaceId;

        // UTF-8 characters (a lead byte and up to three continuation bytes), else their bytes
        for (int start = 0; start < utf8.length; ) {
            int end = start + 1;
            while (end < utf8.length && (utf8[end] & 0xC0) == 0x80 && end - start < 4) end++;
            Integer id = ids.get(new String(utf8, start, end - start, StandardCharsets.ISO_8859_1));
            if (id != null) {
                tokens[n++] = id;
            } else {
                for (int i = start; i < end; i++) {
                    int t = byteToken[utf8[i] & 0xFF];
                    tokens[n++] = t >= 0 ? t : unknownId;
                }
            }
            start = end;
        }
        if (unknownId < 0) { // no fallback at all: drop what could not be encoded
            int m = first;
            for (int i = first; i < n; i++) if (tokens[i] >= 0) tokens[m++] = tokens[i];
            n = m;
        }

        // greedy merges: the best-scoring pair in the vocabulary, leftmost on ties
        int[] pairId = new int[Math.max(0, n - 1)];
        for (int i = first; i < n - 1; i++) pairId[i] = mergeOf(tokens[i], tokens[i + 1]);
        while (true) {
            float best = -1e10f; // as llama2.c: merges scored at or below this never happen
            int bestIndex = -1;
            for (int i = first; i < n - 1; i++) {
                int id = pairId[i];
                if (id >= 0 && scores[id] > best) {
                    best = scores[id];
                    bestIndex = i;
                }
            }
            if (bestIndex < 0) break;
            tokens[bestIndex] = pairId[bestIndex];
            System.arraycopy(tokens, bestIndex + 2, tokens, bestIndex + 1, n - bestIndex - 2);
            if (bestIndex + 1 < n - 2) System.arraycopy(pairId, bestIndex + 2, pairId, bestIndex + 1, n - bestIndex - 3);
            n--;
            if (bestIndex > first) pairId[bestIndex - 1] = mergeOf(tokens[bestIndex - 1], tokens[bestIndex]);
            if (bestIndex < n - 1) pairId[bestIndex] = mergeOf(tokens[bestIndex], tokens[bestIndex + 1]);
        }
        if (eos) tokens[n++] = eosId;
        return Arrays.copyOf(tokens, n);
    }

    /** The token two adjacent tokens merge into, or -1. */
    private int mergeOf(int left, int right) {
        if (tokenByte[left] >= 0 || tokenByte[right] >= 0) return -1;
        Integer id = ids.get(pieces[left].concat(pieces[right]));
        return id == null ? -1 : id;
    }

    // ---------------------------------------------------------------- decoding

    /**
     * The bytes of {@code token} following {@code previous}, as llama2.c's decode: a byte token
     * is its raw byte, and the leading space of the first piece after BOS is dropped.
     */
    public byte[] decodeBytes(int previous, int token) {
        int b = byteValue(token);
        if (b >= 0) return new byte[] {(byte) b};
        String piece = pieces[token];
        if (previous == bosId && piece.startsWith(" ")) piece = piece.substring(1);
        return piece.getBytes(StandardCharsets.ISO_8859_1);
    }

    /**
     * {@link #decodeBytes} as text; a lone byte token that is not a whole UTF-8 character reads
     * as U+FFFD. Use {@link #streamDecoder()} to print generated text token by token.
     */
    public String decode(int previous, int token) {
        return new String(decodeBytes(previous, token), StandardCharsets.UTF_8);
    }

    /** The text of a token sequence; control tokens (BOS, EOS) contribute nothing. */
    public String decode(int[] tokens) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int previous = -1;
        for (int t : tokens) {
            if (types[checkId(t)] != TokenType.CONTROL) out.writeBytes(decodeBytes(previous, t));
            previous = t;
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    /** A decoder for generated tokens that holds back incomplete UTF-8 sequences. */
    public StreamDecoder streamDecoder() {
        return new StreamDecoder();
    }

    /**
     * Turns tokens into printable text one at a time: multi-byte characters split over several
     * byte tokens come out whole once complete, control tokens print nothing, and lone control
     * bytes other than whitespace are dropped (as llama2.c's safe_printf does). Not thread-safe.
     */
    public final class StreamDecoder {
        private int previous = -1;
        private byte[] pending = new byte[0];

        private StreamDecoder() {}

        /** The text that {@code token} completes (possibly empty). */
        public String next(int token) {
            int prev = previous;
            previous = token;
            if (types[checkId(token)] == TokenType.CONTROL) return "";
            byte[] bytes = decodeBytes(prev, token);
            if (bytes.length == 1 && isUnprintableControl(bytes[0])) return "";
            byte[] all = new byte[pending.length + bytes.length];
            System.arraycopy(pending, 0, all, 0, pending.length);
            System.arraycopy(bytes, 0, all, pending.length, bytes.length);
            int complete = completePrefix(all);
            pending = Arrays.copyOfRange(all, complete, all.length);
            return new String(all, 0, complete, StandardCharsets.UTF_8);
        }

        /** Whatever is still held back, with U+FFFD for incomplete characters. */
        public String flush() {
            String s = new String(pending, StandardCharsets.UTF_8);
            pending = new byte[0];
            return s;
        }

        private static boolean isUnprintableControl(byte b) {
            return (b >= 0 && b < 0x20 && b != '\n' && b != '\t' && b != '\r' && b != 0x0B && b != 0x0C) || b == 0x7F;
        }

        /** Length of the longest prefix that does not end inside a UTF-8 character. */
        private static int completePrefix(byte[] b) {
            int n = b.length;
            for (int back = 1; back <= Math.min(3, n); back++) {
                int lead = b[n - back] & 0xFF;
                if ((lead & 0xC0) == 0x80) continue; // continuation: look further back
                int need = lead >= 0xF8 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
                return need > back ? n - back : n;
            }
            return n;
        }
    }

    /** The piece as a Java string (malformed UTF-8 reads as U+FFFD). */
    public String pieceText(int id) {
        return new String(piece(id), StandardCharsets.UTF_8);
    }

    @Override
    public String toString() {
        return "Tokenizer[" + pieces.length + " tokens, bos=" + bosId + ", eos=" + eosId + "]";
    }
}
