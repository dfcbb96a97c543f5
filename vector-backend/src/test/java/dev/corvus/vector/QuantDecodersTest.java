package dev.corvus.vector;

import static dev.corvus.vector.Fixtures.SCALAR;
import static dev.corvus.vector.Fixtures.VECTOR;
import static dev.corvus.vector.Fixtures.assertSameFloats;
import static dev.corvus.vector.Fixtures.floats;
import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Storage;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.testing.Close;
import dev.corvus.tensor.testing.QuantFixtures;
import dev.corvus.tensor.testing.QuantFixtures.Fixture;
import java.util.Arrays;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The vector decoders against gguf-py's values (the fixtures of scripts/quant-fixtures.py) bit for
 * bit, and the backend ops that use them (dequantising copies, embedding rows, linear) against
 * the scalar backend.
 */
class QuantDecodersTest {
    static Stream<DType> quantTypes() {
        return QuantFixtures.quantTypes();
    }

    @ParameterizedTest
    @MethodSource("quantTypes")
    void decoderReproducesGgufPyBitForBit(DType t) {
        Fixture f = QuantFixtures.load(t);
        int at = 5; // an unaligned destination, with a sentinel on either side
        float[] dst = new float[f.expected().length + 2 * at];
        Arrays.fill(dst, -7.5f);
        QuantDecoders.decode(t, f.bytes(), 0, f.blocks(), dst, at);
        assertSameFloats(t + " decoder", f.expected(), Arrays.copyOfRange(dst, at, at + f.expected().length));
        for (int i = 0; i < at; i++) assertThat(new float[] {dst[i], dst[dst.length - 1 - i]}).containsOnly(-7.5f);
        // One block at a time from the middle: the block offset is honoured.
        float[] one = new float[t.blockSize()];
        int b = f.blocks() - 2;
        QuantDecoders.decode(t, f.bytes(), (long) b * t.blockBytes(), 1, one, 0);
        assertSameFloats(t + " block " + b, Arrays.copyOfRange(f.expected(), b * t.blockSize(), (b + 1) * t.blockSize()), one);
    }

    @ParameterizedTest
    @MethodSource("quantTypes")
    void dequantisingCopiesMatchGgufPy(DType t) {
        Fixture f = QuantFixtures.load(t);
        try (MemoryScope scope = MemoryScope.open("copy")) {
            // Two blocks per row, so the rows path of a narrowed view is exercised too.
            int rows = f.blocks() / 2, cols = 2 * t.blockSize();
            Tensor q = Tensor.wrap(Storage.wrap(f.bytes(), scope), t, 0, rows, cols);
            Tensor out = Tensor.zeros(DType.F32, rows, cols);
            VECTOR.copy(q, out);
            assertSameFloats(t + " copy", f.expected(), floats(out));
            Tensor slice = q.narrow(1, t.blockSize(), t.blockSize());
            Tensor sliced = Tensor.zeros(DType.F32, rows, t.blockSize());
            VECTOR.copy(slice, sliced);
            float[] expected = new float[rows * t.blockSize()];
            for (int r = 0; r < rows; r++) System.arraycopy(f.expected(), r * cols + t.blockSize(), expected, r * t.blockSize(), t.blockSize());
            assertSameFloats(t + " narrowed copy", expected, floats(sliced));
        }
    }

    @ParameterizedTest
    @MethodSource("quantTypes")
    void embeddingRowsMatchTheScalarBackend(DType t) {
        try (MemoryScope scope = MemoryScope.open("embedding")) {
            Tensor table = QuantFixtures.randomWeights(t, 11, 37, 3 * t.blockSize());
            int[] idValues = {0, 36, 17, 17, 5, 1, 30};
            Tensor ids = Tensor.ofInts(idValues, idValues.length);
            Tensor v = Tensor.zeros(DType.F32, idValues.length, table.size(1));
            Tensor s = Tensor.zeros(DType.F32, idValues.length, table.size(1));
            VECTOR.embedding(table, ids, v);
            SCALAR.embedding(table, ids, s);
            assertSameFloats(t + " embedding", floats(s), floats(v));
        }
    }

    /** Through the public ops: linear on the stored weight against linear on its F32 copy. */
    @ParameterizedTest
    @MethodSource("quantTypes")
    void linearOnStoredWeightsMatchesTheDequantisedWeights(DType t) {
        try (MemoryScope scope = MemoryScope.open("linear")) {
            int k = 7 * t.blockSize();
            Tensor w = QuantFixtures.randomWeights(t, 21, 13, k);
            Tensor wf = Ops.dequantize(w);
            Tensor bias = Tensor.randn(22, 13);
            for (int m : new int[] {1, 17}) {
                Tensor x = Tensor.randn(23 + m, m, k);
                float[] expected = Ops.linear(x, wf, bias).toFloatArray();
                float[] actual = Ops.linear(x, w, bias).toFloatArray();
                // Activations of a GEMV (m <= Gemm.GEMV_MAX_ROWS) are quantised to 8 bits on the vector backend (QuantDots).
                double[] bound = ActivationRounding.bound(x.toFloatArray(), m, k, wf.toFloatArray(), 13);
                ActivationRounding.assertClose(t + " linear m=" + m, expected, actual, Close.reductionTolerance(k, 2e-6), 1e-5, bound);
            }
        }
    }
}
