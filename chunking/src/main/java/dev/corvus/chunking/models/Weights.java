package dev.corvus.chunking.models;

import dev.corvus.chunking.Node;
import dev.corvus.chunking.Tracer;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;

/**
 * Random weights for a traced model, as graph parameters: every tensor from its own seed (the
 * model seed plus a running count, so the same seed gives the same model), linear weights scaled
 * by 1/sqrt(fan_in) so activations keep unit scale through deep stacks.
 */
final class Weights {
    private final Tracer tracer;
    private final MemoryScope scope;
    private final long seed;
    private long count;

    Weights(Tracer tracer, MemoryScope scope, long seed) {
        this.tracer = tracer;
        this.scope = scope;
        this.seed = seed;
    }

    /** A linear layer's weight [out, in]. */
    Node linear(String name, int out, int in) {
        return tracer.param(name, Tensor.randn(scope, next(), (float) (1 / Math.sqrt(in)), out, in));
    }

    /** A bias or a norm shift [size], small. */
    Node bias(String name, int size) {
        return tracer.param(name, Tensor.randn(scope, next(), 0.02f, size));
    }

    /** A norm gain [size]: ones. */
    Node gain(String name, int size) {
        return tracer.param(name, Tensor.full(scope, 1f, size));
    }

    private long next() {
        return seed * 1_000_003L + count++;
    }
}
