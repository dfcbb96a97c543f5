package dev.corvus.chunking;

import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import java.util.List;

/**
 * The outputs of one run of a program and the activation memory it took, measured by the
 * allocator: live bytes at the peak (activations, including scratch inside ops) and the pool's
 * footprint. Closing it frees the outputs.
 */
public final class Execution implements AutoCloseable {
    private final MemoryScope scope;
    private final List<Tensor> outputs;
    private final long peakBytes;
    private final long[] peakAt;

    Execution(MemoryScope scope, List<Tensor> outputs, long peakBytes, long[] peakAt) {
        this.scope = scope;
        this.outputs = List.copyOf(outputs);
        this.peakBytes = peakBytes;
        this.peakAt = peakAt;
    }

    /** Measured live bytes at the peak of each node of the program's graph, by position. */
    public long[] peakAt() {
        return peakAt.clone();
    }

    public Tensor output(int i) {
        return outputs.get(i);
    }

    public List<Tensor> outputs() {
        return outputs;
    }

    /** The most activation bytes live at once while the program ran. */
    public long peakBytes() {
        return peakBytes;
    }

    /**
     * The most memory the executor's pool held at once: live activations plus small buffers kept
     * for reuse (buffers of {@link MemoryScope#OWN_ARENA_BYTES} and more are freed on their last
     * use). This, not just the live peak, is what the process pays.
     */
    public long footprintBytes() {
        return scope.peakReservedBytes();
    }

    @Override
    public void close() {
        scope.close();
    }
}
