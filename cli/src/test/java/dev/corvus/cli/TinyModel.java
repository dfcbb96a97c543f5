package dev.corvus.cli;

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

/**
 * A small random llama2.c checkpoint and its tokenizer.bin beside it, written as llama2.c's
 * export does, so the CLI tests run whole commands in milliseconds without a downloaded model.
 * Dimensions are multiples of 32 so that --dtype q8_0 works too.
 */
final class TinyModel {
    static final int DIM = 64, HIDDEN = 96, LAYERS = 2, HEADS = 4, KV_HEADS = 2, SEQ_LEN = 512;
    private static final String[] PIECES = {" ", "a", "b", "c", "ab", " a", " ab", "x", "xx", "hello", " hello", "he", "ll", "o", "Once", " upon"};

    private TinyModel() {}

    static int vocab() {
        return 3 + 256 + PIECES.length;
    }

    /** Writes {@code dir/name} (weights) and {@code dir/tokenizer.bin}; {@code nanFinalNorm} poisons every logit. */
    static Path write(Path dir, String name, long seed, boolean nanFinalNorm) throws IOException {
        int headDim = DIM / HEADS, kvDim = KV_HEADS * headDim, v = vocab();
        long[] sizes = {(long) v * DIM, LAYERS * DIM, (long) LAYERS * DIM * DIM, (long) LAYERS * kvDim * DIM, (long) LAYERS * kvDim * DIM,
            (long) LAYERS * DIM * DIM, LAYERS * DIM, (long) LAYERS * HIDDEN * DIM, (long) LAYERS * DIM * HIDDEN, (long) LAYERS * HIDDEN * DIM,
            DIM, (long) SEQ_LEN * headDim};
        long floats = 0;
        for (long s : sizes) floats += s;
        ByteBuffer b = ByteBuffer.allocate((int) (28 + 4 * floats)).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(DIM).putInt(HIDDEN).putInt(LAYERS).putInt(HEADS).putInt(KV_HEADS).putInt(v).putInt(SEQ_LEN); // vocab > 0: shared classifier
        SplittableRandom r = new SplittableRandom(seed);
        for (int part = 0; part < sizes.length; part++) {
            boolean norm = part == 1 || part == 6 || part == 10;
            for (long i = 0; i < sizes[part]; i++) {
                float x = norm ? 1f + 0.1f * (float) r.nextGaussian() : 0.3f * (float) r.nextGaussian();
                if (part == 10 && nanFinalNorm) x = Float.NaN;
                // BOS and EOS embed as zero, so their logits (the classifier is the embedding) are 0:
                // greedy decoding runs to --steps instead of stopping wherever a random model says EOS
                if (part == 0 && i / DIM >= 1 && i / DIM <= 2) x = 0f;
                b.putFloat(x);
            }
        }
        Files.write(dir.resolve("tokenizer.bin"), tokenizerBin());
        return Files.write(dir.resolve(name), b.array());
    }

    /** 0 &lt;unk&gt;, 1 BOS, 2 EOS, 3..258 the bytes, then a few pieces. */
    private static byte[] tokenizerBin() {
        List<byte[]> pieces = new ArrayList<>();
        pieces.add("<unk>".getBytes(StandardCharsets.UTF_8));
        pieces.add("\n<s>\n".getBytes(StandardCharsets.UTF_8));
        pieces.add("\n</s>\n".getBytes(StandardCharsets.UTF_8));
        for (int c = 0; c < 256; c++) pieces.add(String.format("<0x%02X>", c).getBytes(StandardCharsets.UTF_8));
        for (String p : PIECES) pieces.add(p.getBytes(StandardCharsets.UTF_8));
        int max = pieces.stream().mapToInt(p -> p.length).max().orElse(1);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        out.write(b.clear().putInt(max).array(), 0, 4);
        for (int i = 0; i < pieces.size(); i++) {
            float score = i < 259 ? 0f : -i;
            out.write(b.clear().putFloat(score).putInt(pieces.get(i).length).array(), 0, 8);
            out.writeBytes(pieces.get(i));
        }
        return out.toByteArray();
    }
}
