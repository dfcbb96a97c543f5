package dev.corvus.model;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/** Synthetic llama2.c checkpoints and tokenizers, written the way llama2.c's export does. */
final class TestModels {
    private TestModels() {}

    /** A llama2.c checkpoint in memory: header values and every float in file order. */
    record Llama2c(int dim, int hidden, int layers, int heads, int kvHeads, int vocab, int seqLen, boolean shared, float[] floats) {
        int kvDim() {
            return kvHeads * (dim / heads);
        }

        byte[] bytes() {
            ByteBuffer b = ByteBuffer.allocate(28 + 4 * floats.length).order(ByteOrder.LITTLE_ENDIAN);
            b.putInt(dim).putInt(hidden).putInt(layers).putInt(heads).putInt(kvHeads).putInt(shared ? vocab : -vocab).putInt(seqLen);
            for (float f : floats) b.putFloat(f);
            return b.array();
        }

        Path write(Path file) throws IOException {
            Files.write(file, bytes());
            return file;
        }

        /** Float index where each array starts, in the order of the format (13 arrays; the classifier last). */
        long[] starts() {
            long l = layers, d = dim, h = hidden, kv = kvDim(), v = vocab;
            long[] sizes = {v * d, l * d, l * d * d, l * kv * d, l * kv * d, l * d * d, l * d, l * h * d, l * d * h, l * h * d, d,
                    (long) seqLen * (dim / heads), shared ? 0 : v * d};
            long[] starts = new long[sizes.length + 1];
            for (int i = 0; i < sizes.length; i++) starts[i + 1] = starts[i] + sizes[i];
            return starts;
        }

        /** Elements [from, from + n) of the float stream. */
        float[] slice(long from, int n) {
            float[] out = new float[n];
            System.arraycopy(floats, (int) from, out, 0, n);
            return out;
        }
    }

    static Llama2c llama2c(long seed, int dim, int hidden, int layers, int heads, int kvHeads, int vocab, int seqLen, boolean shared) {
        Llama2c shape = new Llama2c(dim, hidden, layers, heads, kvHeads, vocab, seqLen, shared, new float[0]);
        long n = shape.starts()[13];
        float[] floats = new float[(int) n];
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < floats.length; i++) floats[i] = (float) r.nextGaussian();
        return new Llama2c(dim, hidden, layers, heads, kvHeads, vocab, seqLen, shared, floats);
    }

    // ---------------------------------------------------------------- a tiny vocabulary

    /**
     * The old llama2.c export style: 0 &lt;unk&gt;, 1 "\n&lt;s&gt;\n", 2 "\n&lt;/s&gt;\n", 3..258 bytes
     * stored as their own (Latin-1) character, then the normal pieces below.
     */
    static final String[] PIECES = {" ", "a", "b", "c", "ab", " a", " ab", "é", "Ã±", "x", "xx", "hello", " hello", "h", "e", "l", "o", "he", "ll", "hell"};
    static final float[] SCORES = {-1e9f, -5, -5, -5, -1, -2, -0.5f, -5, 10, -5, -3, -1, -0.5f, -5, -5, -5, -5, -2, -2, -1.5f};

    static int id(String piece) {
        for (int i = 0; i < PIECES.length; i++) if (PIECES[i].equals(piece)) return 259 + i;
        throw new IllegalArgumentException(piece);
    }

    static List<byte[]> pieces() {
        List<byte[]> pieces = new ArrayList<>();
        pieces.add("<unk>".getBytes(StandardCharsets.UTF_8));
        pieces.add("\n<s>\n".getBytes(StandardCharsets.UTF_8));
        pieces.add("\n</s>\n".getBytes(StandardCharsets.UTF_8));
        for (int b = 0; b < 256; b++) pieces.add(String.valueOf((char) b).getBytes(StandardCharsets.UTF_8));
        for (String p : PIECES) pieces.add(p.getBytes(StandardCharsets.UTF_8));
        return pieces;
    }

    static float[] scores() {
        float[] s = new float[259 + PIECES.length];
        System.arraycopy(SCORES, 0, s, 259, SCORES.length);
        return s;
    }

    static int vocabSize() {
        return 259 + PIECES.length;
    }

    /** The tiny vocabulary as llama2.c's tokenizer.bin bytes. */
    static byte[] tokenizerBin() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        List<byte[]> pieces = pieces();
        float[] scores = scores();
        int max = 0;
        for (byte[] p : pieces) max = Math.max(max, p.length);
        ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        out.write(b.clear().putInt(max).array(), 0, 4);
        for (int i = 0; i < pieces.size(); i++) {
            out.write(b.clear().putFloat(scores[i]).putInt(pieces.get(i).length).array(), 0, 8);
            out.writeBytes(pieces.get(i));
        }
        return out.toByteArray();
    }

    static Tokenizer tokenizer() {
        try {
            return Tokenizer.readLlama2c(Path.of("tiny-tokenizer.bin"), tokenizerBin(), -1);
        } catch (CheckpointException e) {
            throw new AssertionError(e);
        }
    }

}
