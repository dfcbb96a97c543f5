package dev.corvus.vector;

import static dev.corvus.vector.Fixtures.assertSameFloats;
import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.tensor.Backends;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.RopeStyle;
import dev.corvus.tensor.Tensor;
import org.junit.jupiter.api.Test;

/**
 * Ops on views (transposed, sliced, broadcast) against the same op on contiguous copies, through
 * whichever backend is selected: the pom runs this suite with -Dcorvus.backend=vector and =scalar.
 * Both sides run the same kernels on the same values, so results must be identical.
 */
@SuppressWarnings("try") // scopes are opened for the tensors they hold, not referenced by name
class VectorBackendFacadeTest {

    private static void same(String what, Tensor expected, Tensor actual) {
        assertThat(actual.shape()).as(what).containsExactly(expected.shape());
        assertSameFloats(what, expected.toFloatArray(), actual.toFloatArray());
    }

    @Test
    void theRequestedBackendRuns() {
        String forced = System.getProperty(Backends.PROPERTY);
        if (forced != null) assertThat(Backends.cpu().name()).isEqualTo(forced);
    }

    @Test
    void binaryOnTransposedSlicedAndBroadcastOperands() {
        try (MemoryScope s = MemoryScope.open()) {
            Tensor a = Tensor.randn(1, 33, 21);
            Tensor at = a.t(); // [21, 33]
            Tensor row = Tensor.randn(2, 33), col = Tensor.randn(3, 21, 1);
            same("a.t() + row", Ops.add(at.contiguous(), row), Ops.add(at, row));
            same("a.t() * col", Ops.mul(at.contiguous(), col.expand(21, 33).contiguous()), Ops.mul(at, col));
            same("row - a.t()", Ops.sub(row.expand(21, 33).contiguous(), at.contiguous()), Ops.sub(row, at));
            Tensor narrow = a.narrow(1, 3, 17); // [33, 17] with row stride 21
            Tensor b = Tensor.randn(4, 17);
            same("narrow / expanded", Ops.div(narrow.contiguous(), b.expand(33, 17).contiguous()), Ops.div(narrow, b.expand(33, 17)));
            same("scale of transposed", Ops.scale(at.contiguous(), -0.5f), Ops.scale(at, -0.5f));
            same("gelu of narrowed", Ops.gelu(narrow.contiguous(), false), Ops.gelu(narrow, false));
        }
    }

    @Test
    void rowOpsOnViews() {
        try (MemoryScope s = MemoryScope.open()) {
            Tensor x = Tensor.randn(5, 4, 9, 40); // seed 5, shape [4, 9, 40]
            Tensor v = x.narrow(1, 1, 7).narrow(2, 2, 33); // [4, 7, 33], strided outer dims
            Tensor c = v.contiguous();
            same("softmax dim -1", Ops.softmax(c, -1), Ops.softmax(v, -1));
            same("softmax dim 0", Ops.softmax(c, 0), Ops.softmax(v, 0));
            same("causal", Ops.causalSoftmax(c), Ops.causalSoftmax(v));
            same("logSoftmax dim 1", Ops.logSoftmax(c, 1), Ops.logSoftmax(v, 1));
            Tensor w = Tensor.randn(6, 33), b = Tensor.randn(7, 33);
            same("rmsnorm", Ops.rmsnorm(c, w, 1e-5f), Ops.rmsnorm(v, w, 1e-5f));
            same("layernorm", Ops.layernorm(c, w, b, 1e-5f), Ops.layernorm(v, w, b, 1e-5f));
            for (int dim = 0; dim < 3; dim++) {
                same("sum " + dim, Ops.sum(c, dim, false), Ops.sum(v, dim, false));
                same("mean " + dim, Ops.mean(c, dim, true), Ops.mean(v, dim, true));
                same("max " + dim, Ops.max(c, dim, false), Ops.max(v, dim, false));
                assertThat(Ops.argmax(v, dim).toIntArray()).as("argmax %d", dim).containsExactly(Ops.argmax(c, dim).toIntArray());
            }
        }
    }

    @Test
    void ropeOnAPermutedView() {
        try (MemoryScope s = MemoryScope.open()) {
            Tensor x = Tensor.randn(8, 3, 5, 64).permute(1, 0, 2); // [T=5, H=3, D=64] over a [H, T, D] buffer
            for (RopeStyle style : RopeStyle.values()) {
                same("rope " + style, Ops.rope(x.contiguous(), 0, 11, 10000, style), Ops.rope(x, 0, 11, 10000, style));
            }
        }
    }

    @Test
    void conversionsAndEmbeddingOnViews() {
        try (MemoryScope s = MemoryScope.open()) {
            Tensor x = Tensor.randn(9, 64, 96);
            Tensor t = x.t(); // [96, 64]
            for (DType d : new DType[] {DType.F16, DType.BF16, DType.Q8_0}) {
                same("to " + d + " of transposed", t.contiguous().to(d).to(DType.F32), t.to(d).to(DType.F32));
            }
            Tensor sliced = x.narrow(1, 32, 64); // [64, 64], rows of 64 with stride 96
            same("quantize sliced", sliced.contiguous().to(DType.Q8_0).to(DType.F32), Ops.quantize(sliced).to(DType.F32));
            Tensor ids = Tensor.ofInts(new int[] {5, 0, 63, 5, 12, 40}, 2, 3);
            for (DType d : new DType[] {DType.F32, DType.F16, DType.BF16, DType.Q8_0}) {
                Tensor table = x.narrow(1, 0, 64).contiguous().to(d);
                Tensor expected = Ops.embedding(table, ids);
                assertThat(expected.shape()).containsExactly(2, 3, 64);
                // Row 5 of the table, decoded, is what ids 0 and 3 fetched.
                float[] row = Ops.copy(table.narrow(0, 5, 1)).to(DType.F32).toFloatArray();
                float[] got = expected.toFloatArray();
                assertSameFloats("embedding row " + d, row, java.util.Arrays.copyOfRange(got, 0, 64));
                assertSameFloats("embedding repeat " + d, row, java.util.Arrays.copyOfRange(got, 3 * 64, 4 * 64));
            }
            // Concatenating views copies through strided destinations.
            Tensor a = Tensor.randn(10, 4, 6), b = Tensor.randn(11, 4, 6);
            Tensor cat = Ops.concat(1, a.t().contiguous().t(), b);
            same("concat", Ops.concat(1, a, b), cat);
        }
    }
}
