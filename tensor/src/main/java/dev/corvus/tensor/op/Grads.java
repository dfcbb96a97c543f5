package dev.corvus.tensor.op;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import java.util.Arrays;
import java.util.function.DoubleUnaryOperator;

/**
 * What the backward rules share: summing a broadcast gradient back to an operand's shape, and the
 * host loops for rules no op composes into (element-wise derivatives, the norms, scatter-adds).
 * The host loops read F32 copies of their operands and accumulate in double; their result goes back
 * to the operands' device.
 */
final class Grads {
    private Grads() {}

    /** {@code g} summed over the dimensions broadcasting stretched, to {@code shape}. */
    static Tensor sumTo(Tensor g, int[] shape) {
        if (Arrays.equals(g.shape(), shape)) return g;
        Tensor r = g;
        while (r.rank() > shape.length) r = Ops.sum(r, 0, false);
        for (int d = 0; d < shape.length; d++) {
            if (shape[d] == 1 && r.size(d) != 1) r = Ops.sum(r, d, true);
        }
        return r;
    }

    /** g · f'(x) element-wise, with f' evaluated in double on x's F32 values. */
    static Tensor timesDerivative(Tensor x, Tensor g, DoubleUnaryOperator derivative) {
        float[] xs = x.toFloatArray(), gs = g.toFloatArray();
        float[] out = new float[xs.length];
        for (int i = 0; i < xs.length; i++) out[i] = (float) (gs[i] * derivative.applyAsDouble(xs[i]));
        return like(out, x);
    }

    /** A host array as an F32 tensor of {@code like}'s shape on its device. */
    static Tensor like(float[] values, Tensor like) {
        return onDeviceOf(Tensor.of(values, like.shape()), like);
    }

    static Tensor onDeviceOf(Tensor host, Tensor like) {
        return host.to(like.device());
    }

    /** The element count of x's last dimension and the number of rows before it. */
    static int[] rowsAndColumns(Tensor x) {
        int c = x.size(-1);
        return new int[] {c == 0 ? 0 : (int) (x.numel() / c), c};
    }

    /** False for an operand that gets no gradient: a quantised weight (the tape refuses it as a target, naming its type) or indices. */
    static boolean trainable(Tensor t) {
        return !t.dtype().isQuantized() && t.dtype() != DType.I32;
    }

    /** 1 where query row q of [queries, keys] sees key j (j &lt;= q + diagonal), else 0. */
    static Tensor causalMask(int queries, int keys, int diagonal, Tensor like) {
        float[] m = new float[queries * keys];
        for (int q = 0; q < queries; q++) {
            for (int j = 0; j < keys && j <= q + diagonal; j++) m[q * keys + j] = 1;
        }
        return onDeviceOf(Tensor.of(m, queries, keys), like);
    }
}
