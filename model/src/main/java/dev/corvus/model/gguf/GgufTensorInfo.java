package dev.corvus.model.gguf;

/**
 * One tensor's entry in a GGUF header.
 *
 * @param name   e.g. {@code blk.0.attn_q.weight}
 * @param ne     sizes as GGUF lists them, fastest-varying first ({@code [in, out]} for a matrix)
 * @param type   element type
 * @param offset byte offset from the start of the data section
 * @param bytes  stored size
 */
public record GgufTensorInfo(String name, long[] ne, GgmlType type, long offset, long bytes) {
    public GgufTensorInfo {
        ne = ne.clone();
    }

    @Override
    public long[] ne() {
        return ne.clone();
    }

    /** The Corvus (row-major, slowest first) shape: {@code ne} reversed. */
    public int[] shape() {
        int[] s = new int[ne.length];
        for (int i = 0; i < ne.length; i++) s[i] = Math.toIntExact(ne[ne.length - 1 - i]);
        return s;
    }

    public long numel() {
        long n = 1;
        for (long d : ne) n *= d;
        return n;
    }

    @Override
    public String toString() {
        return name + " " + type + " " + java.util.Arrays.toString(shape());
    }
}
