package dev.corvus.model;

import dev.corvus.model.gguf.GgufReader;
import dev.corvus.model.tokenizer.SentencePieceTokenizer;
import dev.corvus.model.tokenizer.Tokenizers;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Text to token ids and back. Implementations: {@link SentencePieceTokenizer} (llama2.c's
 * {@code tokenizer.bin} and GGUF {@code tokenizer.ggml.model = llama}) and
 * {@link dev.corvus.model.tokenizer.BpeTokenizer} (GGUF {@code gpt2}: byte-level BPE with a
 * pre-tokenizer per {@code tokenizer.ggml.pre}); {@link Tokenizers#fromGguf} picks one.
 *
 * <p>Encoding follows llama.cpp's {@code llama_tokenize}: with {@code parseSpecial} the text
 * of control, user-defined and unknown tokens ({@code <|begin_of_text|>}, {@code <|im_start|>})
 * written in the text becomes that single token, longest first; without it only user-defined
 * tokens are (as Hugging Face tokenizers do). Decoding is lossless where the vocabulary allows
 * (no clean-up of spaces before punctuation), so {@code decode(encode(s, ...))} gives back
 * {@code s}.
 *
 * <p>Instances are immutable and thread-safe.
 */
public interface Tokenizer {
    /** Token kinds, numbered as GGUF's {@code tokenizer.ggml.token_type}. */
    enum TokenType {
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

    // ---------------------------------------------------------------- loading

    /** Reads llama2.c's {@code tokenizer.bin}, which must hold exactly {@code vocabSize} tokens. */
    static Tokenizer loadLlama2c(Path file, int vocabSize) throws IOException {
        return SentencePieceTokenizer.loadLlama2c(file, vocabSize);
    }

    /** Reads llama2.c's {@code tokenizer.bin}, as many tokens as it holds. */
    static Tokenizer loadLlama2c(Path file) throws IOException {
        return SentencePieceTokenizer.loadLlama2c(file, -1);
    }

    /** Parses {@code tokenizer.bin} bytes ({@code file} names it in errors); {@code vocabSize} -1 reads to the end. */
    static Tokenizer readLlama2c(Path file, byte[] bytes, int vocabSize) throws CheckpointException {
        return SentencePieceTokenizer.readLlama2c(file, bytes, vocabSize);
    }

    /** The vocabulary a GGUF carries, or null when it has none; see {@link Tokenizers#fromGguf}. */
    static Tokenizer fromGguf(GgufReader gguf) throws CheckpointException {
        return Tokenizers.fromGguf(gguf);
    }

    /**
     * "&lt;0xXX&gt;" (upper-case hex, as SentencePiece spells it): the text of the byte token for
     * {@code b}. Not String.format: vocabularies build 256 of these while the launch still runs
     * interpreted, where each format call parses its pattern again.
     */
    static String byteTokenText(int b) {
        String hex = "0123456789ABCDEF";
        return "<0x" + hex.charAt(b >> 4 & 15) + hex.charAt(b & 15) + ">";
    }

    /** The byte of a "&lt;0xXX&gt;" piece, or -1. */
    static int parseByteToken(String piece) {
        if (piece.length() != 6 || !piece.startsWith("<0x") || piece.charAt(5) != '>') return -1;
        int hi = Character.digit(piece.charAt(3), 16), lo = Character.digit(piece.charAt(4), 16);
        return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
    }

    // ---------------------------------------------------------------- vocabulary

    int vocabSize();

    /** Beginning of sequence, or -1 when the vocabulary has none. */
    int bosId();

    /** End of sequence, or -1 when the vocabulary has none. */
    int eosId();

    /** End of turn (tokenizer.ggml.eot_token_id, else a token such as {@code <|eot_id|>}), or -1. */
    int eotId();

    /** End of message (tokenizer.ggml.eom_token_id, else {@code <|eom_id|>}), or -1. */
    int eomId();

    /** The unknown token, or -1. */
    int unknownId();

    /** Padding (tokenizer.ggml.padding_token_id), or -1. */
    int padId();

    /** Whether the vocabulary asks for BOS before a prompt (tokenizer.ggml.add_bos_token). */
    boolean addBos();

    /** Whether the vocabulary asks for EOS after a prompt (tokenizer.ggml.add_eos_token). */
    boolean addEos();

    /**
     * Whether generation should stop at {@code id}: EOS, EOT, EOM and the end-of-turn tokens
     * llama.cpp's vocabulary loader recognises by text ({@code <|eot_id|>}, {@code <|im_end|>},
     * {@code <|end|>}, {@code <end_of_turn>}, {@code <|endoftext|>} ...).
     */
    boolean isEndOfGeneration(int id);

    /** Every id for which {@link #isEndOfGeneration} holds, ascending. */
    int[] endOfGenerationIds();

    TokenType type(int id);

    /** The token as the GGUF vocabulary spells it (SentencePiece U+2581 for spaces, byte-level BPE's mapped characters, "&lt;0xXX&gt;"). */
    String tokenText(int id);

    /**
     * The bytes a token stands for in text: a byte token's byte, a normal token with plain
     * spaces (SentencePiece) or its byte-level characters mapped back (BPE), other tokens as
     * spelled.
     */
    byte[] piece(int id);

    /** {@link #piece} as a Java string (malformed UTF-8 reads as U+FFFD). */
    default String pieceText(int id) {
        return new String(piece(id), StandardCharsets.UTF_8);
    }

    /** The SentencePiece merge score (0 where the vocabulary has none). */
    float score(int id);

    /** The raw byte a byte token stands for, or -1 for other tokens. */
    int byteValue(int id);

    // ---------------------------------------------------------------- encoding

    /**
     * Token ids of {@code text}: BOS first if {@code bos}, EOS last if {@code eos}; with
     * {@code parseSpecial} special tokens written in the text are recognised.
     *
     * @throws IllegalArgumentException when BOS or EOS is asked for but the vocabulary has none
     */
    int[] encode(String text, boolean bos, boolean eos, boolean parseSpecial);

    /** {@link #encode(String, boolean, boolean, boolean)} recognising special tokens in the text. */
    default int[] encode(String text, boolean bos, boolean eos) {
        return encode(text, bos, eos, true);
    }

    /** A prompt as the vocabulary asks for it: {@link #addBos}, {@link #addEos}, special tokens recognised. */
    default int[] encode(String text) {
        return encode(text, addBos(), addEos(), true);
    }

    // ---------------------------------------------------------------- decoding

    /**
     * The bytes of {@code token} following {@code previous} (-1 at the start): its
     * {@link #piece}, except that a SentencePiece vocabulary with a space prefix drops the
     * leading space the encoder added, at the start and after BOS or another special token.
     */
    byte[] decodeBytes(int previous, int token);

    /**
     * {@link #decodeBytes} as text; a lone byte token that is not a whole UTF-8 character reads
     * as U+FFFD. Use {@link #streamDecoder()} to print generated text token by token.
     */
    default String decode(int previous, int token) {
        return new String(decodeBytes(previous, token), StandardCharsets.UTF_8);
    }

    /** The text of a token sequence; control tokens (BOS, EOS, {@code <|im_start|>}) contribute nothing. */
    default String decode(int[] tokens) {
        return decode(tokens, false);
    }

    /** The text of a token sequence; with {@code special} control tokens are written as spelled. */
    default String decode(int[] tokens, boolean special) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int previous = -1;
        for (int t : tokens) {
            if (special || type(t) != TokenType.CONTROL) out.writeBytes(decodeBytes(previous, t));
            previous = t;
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    /** A decoder for generated tokens that holds back incomplete UTF-8 sequences. */
    default StreamDecoder streamDecoder() {
        return new StreamDecoder(this);
    }

    /**
     * Turns tokens into printable text one at a time: multi-byte characters split over several
     * tokens come out whole once complete, control tokens print nothing, and lone control bytes
     * other than whitespace are dropped (as llama2.c's safe_printf does). Not thread-safe.
     */
    final class StreamDecoder {
        private final Tokenizer tokenizer;
        private int previous = -1;
        private byte[] pending = new byte[0];

        StreamDecoder(Tokenizer tokenizer) {
            this.tokenizer = tokenizer;
        }

        /** The text that {@code token} completes (possibly empty). */
        public String next(int token) {
            int prev = previous;
            previous = token;
            if (tokenizer.type(token) == TokenType.CONTROL) return "";
            byte[] bytes = tokenizer.decodeBytes(prev, token);
            if (bytes.length == 1 && isUnprintableControl(bytes[0])) return "";
            byte[] all = Arrays.copyOf(pending, pending.length + bytes.length);
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
}
