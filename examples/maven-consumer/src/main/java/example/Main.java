package example;

import dev.corvus.model.Sampler;
import dev.corvus.tensor.Backends;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;

/**
 * The README's first example as a program, plus a greedy pick from the model module. It exits
 * non-zero when Corvus did not choose the Vector API backend, because the point of this project
 * is that the one dependency of the README's snippet brings it.
 */
public final class Main {
    private Main() {}

    public static void main(String[] args) {
        Backends.Selection backend = Backends.cpuSelection();
        System.out.println("backend: " + backend.backend().name() + " (" + backend.reason() + ")");
        if (!backend.backend().name().equals("vector")) {
            System.err.println("expected the Vector API backend: is corvus-vector-backend missing, or the JVM flags?");
            System.exit(1);
        }
        try (MemoryScope scope = MemoryScope.open("forward")) {
            Tensor x = Tensor.randn(42, 8, 288);            // [tokens, dim]
            Tensor w = Tensor.randn(7, 768, 288).to(DType.Q8_0);
            Tensor h = Ops.silu(Ops.linear(x, w, null));    // [8, 768], Q8_0 weights read as stored
            Tensor p = Ops.softmax(h, -1);

            float[] row = p.select(0, 0).toFloatArray();
            double sum = 0;
            for (float v : row) sum += v;
            int token = Sampler.greedy().sample(row);
            System.out.printf("shape [%d, %d], row 0 sums to %.6f, greedy pick %d%n", p.shape()[0], p.shape()[1], sum, token);
            if (p.shape()[0] != 8 || p.shape()[1] != 768 || Math.abs(sum - 1) > 1e-4) {
                System.err.println("unexpected result");
                System.exit(1);
            }
        }
    }
}
