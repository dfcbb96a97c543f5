package dev.corvus.dit;

import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;

/**
 * Backward functions of the token-wise layers of {@link SpatialTemporalTransformer} (Corvus has
 * no autograd). Each takes the layer's forward input and the gradient of its output and returns
 * the input gradient and, for layers with parameters, the parameter gradients summed over every
 * token. Built from {@link Ops}; outputs land where Ops puts them (the current scope, else the
 * first operand's).
 *
 * <p>Hand-written, and it stays only until the tape (gradients from the op registry's backward
 * rules) can differentiate {@link SpatialTemporalTransformer}'s forward; {@link VideoDiT} has no
 * hand-written backward and is meant to get its gradients from that tape.
 */
final class LayerBackward {
    private LayerBackward() {}

    /** A layer's input gradient and the gradients of its weight and bias. */
    record Grads(Tensor dx, Tensor dWeight, Tensor dBias) {}

    /**
     * y = x·Wᵀ + b for x [..., K], W [N, K], b [N]: dx = dy·W, dW = dyᵀ·x and db = Σ dy, both
     * summed over all tokens (every index but the last).
     */
    static Grads linear(Tensor x, Tensor w, Tensor dy) {
        int n = w.size(0), k = w.size(1);
        Tensor dy2 = dy.reshape(-1, n), x2 = x.reshape(-1, k);
        Tensor dx = Ops.matmul(dy2, w).reshape(x.shape());
        return new Grads(dx, Ops.matmul(dy2, x2, true, false), Ops.sum(dy2, 0, false));
    }

    /**
     * y = x̂·w + b along the last dim with x̂ = (x − μ)·r, r = 1/√(σ² + eps): dw = Σ dy·x̂,
     * db = Σ dy over tokens, and dx = r·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·w.
     */
    static Grads layernorm(Tensor x, Tensor w, float eps, Tensor dy) {
        int c = x.size(-1);
        Tensor centred = Ops.sub(x, Ops.mean(x, -1, true));
        Tensor rstd = reciprocalSqrt(Ops.mean(Ops.mul(centred, centred), -1, true), eps, x);
        Tensor xhat = Ops.mul(centred, rstd);
        Tensor g = Ops.mul(dy, w);
        Tensor dx = Ops.mul(Ops.sub(Ops.sub(g, Ops.mean(g, -1, true)), Ops.mul(xhat, Ops.mean(Ops.mul(g, xhat), -1, true))), rstd);
        Tensor dy2 = dy.reshape(-1, c);
        return new Grads(dx, Ops.sum(Ops.mul(dy, xhat).reshape(-1, c), 0, false), Ops.sum(dy2, 0, false));
    }

    /**
     * y = ½u(1 + tanh z), z = k(u + 0.044715u³), k = √(2/π) (Ops.gelu with the tanh form):
     * du = dy·(½(1 + tanh z) + ½u(1 − tanh² z)·k(1 + 3·0.044715u²)).
     */
    static Tensor geluTanh(Tensor u, Tensor dy) {
        double k = Math.sqrt(2 / Math.PI);
        float a = 0.044715f;
        Tensor one = Tensor.full(scopeOf(u), 1f, 1);
        Tensor u2 = Ops.mul(u, u);
        Tensor t = Ops.tanh(Ops.scale(Ops.mul(u, Ops.add(one, Ops.scale(u2, a))), (float) k));
        Tensor left = Ops.scale(Ops.add(one, t), 0.5f);
        Tensor right = Ops.mul(Ops.scale(Ops.mul(u, Ops.sub(one, Ops.mul(t, t))), (float) (0.5 * k)), Ops.add(one, Ops.scale(u2, 3 * a)));
        return Ops.mul(dy, Ops.add(left, right));
    }

    /** 1/√(v + eps) of the per-row variances v [..., 1], formed in double on the host (one value per token). */
    private static Tensor reciprocalSqrt(Tensor variance, float eps, Tensor like) {
        float[] v = variance.toFloatArray();
        for (int i = 0; i < v.length; i++) v[i] = (float) (1 / Math.sqrt((double) v[i] + eps));
        return Tensor.of(scopeOf(like), v, variance.shape());
    }

    /** Where Ops would allocate an output of {@code t}: the current scope, else t's. */
    static MemoryScope scopeOf(Tensor t) {
        return MemoryScope.forOutputOf(t);
    }
}
