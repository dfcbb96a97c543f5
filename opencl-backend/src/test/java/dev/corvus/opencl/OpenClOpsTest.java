package dev.corvus.opencl;

import static dev.corvus.tensor.testing.Close.AWKWARD;
import static dev.corvus.tensor.testing.Close.assertAllClose;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.tensor.BinaryOp;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.Device;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.ReduceOp;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.UnaryOp;
import dev.corvus.tensor.testing.Close;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Every implemented op on the OpenCL device against the same op on the CPU (the scalar reference
 * in this module), through the public API: x.to(device), Ops.xxx, .to(Device.CPU).
 */
class OpenClOpsTest {
    private Device dev;

    @BeforeEach
    void device() {
        dev = OpenClTestSupport.device();
    }

    private static float[] cpu(Tensor t) {
        return t.to(Device.CPU).toFloatArray();
    }

    @Test
    void roundTripKeepsEveryDtypeBitExact() {
        try (MemoryScope s = MemoryScope.open()) {
            for (int n : AWKWARD) {
                Tensor x = Tensor.randn(n, 3, n);
                assertThat(cpu(x.to(dev))).containsExactly(x.toFloatArray());
                for (DType t : new DType[] {DType.F16, DType.BF16}) {
                    Tensor h = x.to(t);
                    assertThat(h.to(dev).to(Device.CPU).toFloatArray()).as(t + " n=" + n).containsExactly(h.toFloatArray());
                }
                int[] ids = new int[n];
                for (int i = 0; i < n; i++) ids[i] = i * 7 - 3;
                assertThat(Tensor.ofInts(ids, n).to(dev).to(Device.CPU).toIntArray()).containsExactly(ids);
            }
        }
    }

    @Test
    void allocateIsZeroAndOutputsStayOnTheDevice() {
        try (MemoryScope s = MemoryScope.open()) {
            Tensor z = OpenClBackendProvider.backend(dev).allocate(s, DType.F32, 5, 7);
            assertThat(z.device()).isEqualTo(dev);
            assertThat(z.toFloatArray()).containsOnly(0f);
            Tensor y = Ops.add(Tensor.randn(1, 5, 7).to(dev), z);
            assertThat(y.device()).isEqualTo(dev);
        }
    }

    @Test
    void stridedCopiesAndConversions() {
        try (MemoryScope s = MemoryScope.open()) {
            for (int n : new int[] {1, 3, 17, 64, 97}) {
                Tensor x = Tensor.randn(n, 4, n, 5);
                Tensor d = x.to(dev);
                // transpose + narrow on the device, then a contiguous copy by the strided kernel
                Tensor view = d.transpose(0, 2).narrow(2, 1, 2);
                assertThat(cpu(view.contiguous())).containsExactly(x.transpose(0, 2).narrow(2, 1, 2).contiguous().toFloatArray());
                for (DType from : new DType[] {DType.F32, DType.F16, DType.BF16}) {
                    for (DType to : new DType[] {DType.F32, DType.F16, DType.BF16}) {
                        Tensor expected = x.to(from).t().to(to);
                        Tensor actual = x.to(from).to(dev).t().to(to);
                        assertThat(actual.dtype()).isEqualTo(to);
                        assertThat(actual.to(Device.CPU).toFloatArray()).as(from + "->" + to + " n=" + n).containsExactly(expected.toFloatArray());
                    }
                }
            }
        }
    }

    @Test
    void q8RoundTripsMatchTheReferenceBitForBit() {
        try (MemoryScope s = MemoryScope.open()) {
            for (int rows : new int[] {1, 3, 13}) {
                Tensor x = Tensor.randn(rows, rows, 96);
                Tensor qCpu = Ops.quantize(x);
                Tensor qDev = Ops.quantize(x.to(dev));
                assertThat(qDev.device()).isEqualTo(dev);
                assertThat(cpu(qDev)).as("quantize rows=" + rows).containsExactly(qCpu.toFloatArray());
                assertThat(cpu(Ops.dequantize(qCpu.to(dev)))).containsExactly(Ops.dequantize(qCpu).toFloatArray());
            }
        }
    }

    @Test
    void binaryWithSameShapeScalarAndRowBroadcast() {
        try (MemoryScope s = MemoryScope.open()) {
            for (int n : AWKWARD) {
                Tensor a = Tensor.randn(n, 3, n);
                Tensor same = Tensor.randn(n + 1, 3, n), row = Tensor.randn(n + 2, n), one = Tensor.randn(n + 3, 1);
                Tensor col = Tensor.rand(n + 4, 0.5f, 2f, 3, 1);
                for (BinaryOp op : BinaryOp.values()) {
                    for (Tensor b : new Tensor[] {same, row, one, col}) {
                        float[] expected = Ops.binary(op, a, b).toFloatArray();
                        float[] actual = cpu(Ops.binary(op, a.to(dev), b.to(dev)));
                        assertThat(actual).as(op + " n=" + n + " b=" + java.util.Arrays.toString(b.shape())).containsExactly(expected);
                    }
                }
            }
        }
    }

    @Test
    void unaryOpsAndScale() {
        try (MemoryScope s = MemoryScope.open()) {
            for (int n : AWKWARD) {
                Tensor x = Tensor.rand(n, -6f, 6f, n, 3);
                Tensor d = x.to(dev);
                for (UnaryOp op : UnaryOp.values()) {
                    assertAllClose(op + " n=" + n, Ops.unary(op, x).toFloatArray(), cpu(Ops.unary(op, d)), 2e-6, 2e-6);
                }
                assertThat(cpu(Ops.scale(d, -1.75f))).containsExactly(Ops.scale(x, -1.75f).toFloatArray());
            }
            Tensor special = Tensor.of(new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0f, -0f, 100f, -100f, -5f, -12f}, 9);
            for (UnaryOp op : UnaryOp.values()) {
                assertAllClose(op + " special", Ops.unary(op, special).toFloatArray(), cpu(Ops.unary(op, special.to(dev))), 1e-6, 1e-6);
            }
        }
    }

    @Test
    void reductionsAlongEveryDimension() {
        try (MemoryScope s = MemoryScope.open()) {
            for (int n : AWKWARD) {
                Tensor x = Tensor.randn(n, 3, n);
                Tensor d = x.to(dev);
                for (ReduceOp op : ReduceOp.values()) {
                    for (int dim : new int[] {0, 1}) {
                        double tol = Close.reductionTolerance(x.size(dim), 1e-6);
                        assertAllClose(op + " dim=" + dim + " n=" + n, Ops.reduce(op, x, dim, false).toFloatArray(),
                                cpu(Ops.reduce(op, d, dim, false)), tol, 1e-6);
                    }
                }
            }
            Tensor nan = Tensor.of(new float[] {1, Float.NaN, 3, -1, -2, -3}, 2, 3);
            assertThat(cpu(Ops.max(nan.to(dev), 1, false))).containsExactly(Ops.max(nan, 1, false).toFloatArray());
        }
    }

    @Test
    void argmaxWithTiesNaNsAndInfinities() {
        try (MemoryScope s = MemoryScope.open()) {
            for (int n : AWKWARD) {
                Tensor x = Tensor.randn(n, 5, n);
                assertThat(Ops.argmax(x.to(dev), 1).to(Device.CPU).toIntArray()).as("n=" + n).containsExactly(Ops.argmax(x, 1).toIntArray());
                assertThat(Ops.argmax(x.to(dev), 0).to(Device.CPU).toIntArray()).containsExactly(Ops.argmax(x, 0).toIntArray());
            }
            float inf = Float.NEGATIVE_INFINITY;
            Tensor odd = Tensor.of(new float[] {2, 5, 5, 1, /**/ 1, Float.NaN, 3, Float.NaN, /**/ inf, inf, inf, inf, /**/ 0, 0, 7, 7}, 4, 4);
            assertThat(Ops.argmax(odd.to(dev), 1).to(Device.CPU).toIntArray()).containsExactly(1, 1, 0, 2);
        }
    }

    @Test
    void embeddingFromEveryTableType() {
        try (MemoryScope s = MemoryScope.open()) {
            Tensor table = Tensor.randn(9, 50, 64);
            int[] idv = {0, 49, 3, 3, 17, 42, 1};
            Tensor ids = Tensor.ofInts(idv, 7);
            for (DType t : new DType[] {DType.F32, DType.F16, DType.BF16, DType.Q8_0}) {
                Tensor tab = table.to(t);
                assertThat(cpu(Ops.embedding(tab.to(dev), ids.to(dev)))).as(t.toString()).containsExactly(Ops.embedding(tab, ids).toFloatArray());
            }
            // a table that is a view into a larger device buffer
            Tensor part = table.to(dev).narrow(0, 10, 30);
            assertThat(cpu(Ops.embedding(part, ids.view(7).narrow(0, 2, 3).to(dev))))
                    .containsExactly(Ops.embedding(table.narrow(0, 10, 30), ids.narrow(0, 2, 3)).toFloatArray());
        }
    }

    @Test
    void mixingDevicesAndUnwrittenKernelsGiveClearErrors() {
        try (MemoryScope s = MemoryScope.open()) {
            Tensor host = Tensor.randn(1, 4, 4);
            Tensor onDev = host.to(dev);
            assertThatThrownBy(() -> Ops.add(onDev, host)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("different devices").hasMessageContaining(dev.toString()).hasMessageContaining("cpu");
            assertThatThrownBy(onDev::segment).hasMessageContaining("to(Device.CPU)");
            // matmul is written now (OpenClMatmulTest): a mismatch on K is reported in the user's terms
            assertThatThrownBy(() -> Ops.matmul(onDev, onDev.narrow(0, 0, 3))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("do not match on K (4 vs 3)");
        }
    }
}
