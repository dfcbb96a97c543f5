package dev.corvus.model;

import dev.corvus.tensor.Backends;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;

/**
 * Frees an eager inference forward's activations layer by layer. Each decoder layer runs in a
 * scope of its own (the current one while it is open); when the layer is done, its output, the
 * one value the next layer reads, is copied into a small scope that outlives it, and the layer's
 * scope closes. The pass then holds one layer's activations and two layer outputs at a time
 * instead of every layer's until it returns. The training forward must not use it: the tape
 * needs every activation for the backward pass.
 */
final class LayerScopes implements AutoCloseable {
    private MemoryScope layer = MemoryScope.open("llama.layer");
    /** Holds the output of the last finished layer only; null before the first. */
    private MemoryScope carried;

    /** Ends the current layer, whose output is {@code x}: returns x's copy, frees the layer's activations and opens the next layer's scope. */
    Tensor layerDone(Tensor x) {
        MemoryScope next = MemoryScope.detached("llama.layer output");
        Tensor kept;
        try {
            kept = Backends.of(x.device()).allocate(next, x.dtype(), x.shape());
            Ops.copyInto(x, kept);
        } catch (RuntimeException | Error e) {
            next.close();
            throw e;
        }
        layer.close();
        if (carried != null) carried.close();
        carried = next;
        layer = MemoryScope.open("llama.layer");
        return kept;
    }

    @Override
    public void close() {
        try {
            layer.close();
        } finally {
            if (carried != null) carried.close();
        }
    }
}
