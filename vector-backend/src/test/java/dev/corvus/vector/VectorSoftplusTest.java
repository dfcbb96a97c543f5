package dev.corvus.vector;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.op.Softplus;
import dev.corvus.tensor.testing.Close;
import org.junit.jupiter.api.Test;

/** The vector fast path of softplus, a registry op the Backend interface has no method for. */
class VectorSoftplusTest {
    private static final Backend VECTOR = new VectorBackend();

    @Test
    void takesSoftplusAndMatchesItsScalarDefinitionWithinUlps() {
        float[] specials = {0f, -0f, 20f, -20f, 88f, -88f, 100f, -100f, 1e-40f, 1e30f, -1e30f, Float.POSITIVE_INFINITY,
            Float.NEGATIVE_INFINITY, Float.NaN};
        try (MemoryScope scope = MemoryScope.open()) {
            for (int n : Close.AWKWARD) {
                Tensor x = Tensor.of(Fixtures.withSpecials(n * 3L, n, 6, specials), n);
                Tensor out = Tensor.zeros(DType.F32, n);
                assertThat(VECTOR.run(Softplus.OP, Softplus.ATTRS, new Tensor[] {x}, out)).as("the vector backend has a softplus kernel").isTrue();
                float[] in = x.toFloatArray(), expected = new float[n];
                for (int i = 0; i < n; i++) expected[i] = Softplus.apply(in[i]);
                Close.assertAllClose("softplus n=" + n, expected, out.toFloatArray(), 1e-7, 2e-6);
            }
        }
    }
}
