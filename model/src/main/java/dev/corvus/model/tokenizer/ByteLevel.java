package dev.corvus.model.tokenizer;

import java.nio.charset.StandardCharsets;

/**
 * GPT-2's reversible map from bytes to printable characters, in which byte-level BPE
 * vocabularies spell their tokens: printable Latin-1 bytes stand for themselves, the other 68
 * (controls, space, DEL, the C1 range, NBSP and the soft hyphen) for U+0100 onwards in byte
 * order, so a space reads "Ġ" and a newline "Ċ".
 */
final class ByteLevel {
    private static final char[] BYTE_TO_CHAR = new char[256];
    /** Indexed by character (all below U+0144); -1 for characters that stand for no byte. */
    private static final int[] CHAR_TO_BYTE = new int[0x144];

    static {
        java.util.Arrays.fill(CHAR_TO_BYTE, -1);
        int next = 0x100;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
            char c = printable ? (char) b : (char) next++;
            BYTE_TO_CHAR[b] = c;
            CHAR_TO_BYTE[c] = b;
        }
    }

    private ByteLevel() {}

    /** The UTF-8 bytes of {@code text}, each as its mapped character. */
    static String encode(String text) {
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        char[] out = new char[utf8.length];
        for (int i = 0; i < utf8.length; i++) out[i] = BYTE_TO_CHAR[utf8[i] & 0xFF];
        return new String(out);
    }

    /** The character spelling {@code b}. */
    static char charOf(int b) {
        return BYTE_TO_CHAR[b];
    }

    /**
     * The bytes a byte-level token spells. A character outside the map (which no converted
     * vocabulary's normal tokens hold) is kept as its own UTF-8 rather than dropped.
     */
    static byte[] decode(String token) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(token.length());
        for (int i = 0; i < token.length(); ) {
            int cp = token.codePointAt(i);
            int b = cp < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[cp] : -1;
            if (b >= 0) out.write(b);
            else out.writeBytes(Character.toString(cp).getBytes(StandardCharsets.UTF_8));
            i += Character.charCount(cp);
        }
        return out.toByteArray();
    }
}
