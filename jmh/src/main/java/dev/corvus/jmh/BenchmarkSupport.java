package dev.corvus.jmh;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.Backends;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Quants;
import dev.corvus.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

/** Shared JMH settings and helpers. */
final class BenchmarkSupport {
    private BenchmarkSupport() {}

    /** Flags every forked benchmark JVM needs. */
    static final String ADD_VECTOR = "--add-modules=jdk.incubator.vector";
    static final String NATIVE = "--enable-native-access=ALL-UNNAMED";

    static Backend backend(String name) {
        return Backends.named(name);
    }

    /**
     * An n x k weight in {@code type}: N(0, 0.05) values converted to F32, F16, BF16 or Q8_0, or
     * for the other quantised types {@link #randomBlocks}.
     */
    static Tensor randomWeight(MemoryScope scope, DType type, int n, int k) {
        Tensor w = Tensor.zeros(scope, type, n, k);
        if (type.isQuantized() && type != DType.Q8_0) randomBlocks(w);
        else Ops.copyInto(Tensor.randn(scope, 2, 0.05f, n, k), w);
        return w;
    }

    /**
     * Fills a quantised weight with random bits and small finite scales: Corvus quantises only
     * to Q8_0, so the other types cannot be made from floats.
     */
    static void randomBlocks(Tensor w) {
        DType t = w.dtype();
        MemorySegment seg = w.segment();
        long blocks = t.byteSize(w.numel()) / t.blockBytes();
        SplittableRandom r = new SplittableRandom(3);
        long bytes = blocks * t.blockBytes(), i = 0;
        for (; i + 8 <= bytes; i += 8) seg.set(ValueLayout.JAVA_LONG_UNALIGNED, i, r.nextLong());
        for (; i < bytes; i++) seg.set(ValueLayout.JAVA_BYTE, i, (byte) r.nextInt(256));
        for (long b = 0; b < blocks; b++) {
            for (int s : Quants.scaleOffsets(t)) {
                seg.set(ValueLayout.JAVA_SHORT_UNALIGNED, b * t.blockBytes() + s, Float.floatToFloat16((float) (0.001 + 0.01 * r.nextDouble())));
            }
        }
    }
}
