package dev.corvus.train;

import dev.corvus.tensor.Tensor;
import java.lang.foreign.MemorySegment;

/** Test helpers that write into tensors. */
final class Ops2 {
    private Ops2() {}

    /** Writes {@code values} into the contiguous F32 tensor {@code t}. */
    static void set(Tensor t, float[] values) {
        MemorySegment s = UpdateKernels.memory(t);
        if (values.length != t.numel()) throw new IllegalArgumentException(values.length + " values for " + t);
        for (int i = 0; i < values.length; i++) s.setAtIndex(UpdateKernels.F32, i, values[i]);
    }
}
