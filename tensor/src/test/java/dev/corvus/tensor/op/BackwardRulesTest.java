package dev.corvus.tensor.op;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.tensor.Backends;
import dev.corvus.tensor.BinaryOp;
import dev.corvus.tensor.Device;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.ReduceOp;
import dev.corvus.tensor.RopeStyle;
import dev.corvus.tensor.RopeTable;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.UnaryOp;
import dev.corvus.tensor.testing.GradCheck;
import org.junit.jupiter.api.Test;

/** Every built-in op's backward rule against central finite differences, on awkward shapes. */
class BackwardRulesTest {
    private static long seed = 1;

    /** A fresh contiguous F32 input with values ~ N(0, std²). */
    private static Tensor input(float std, int... shape) {
        return Ops.scale(Tensor.randn(seed++, shape), std);
    }

    private static Tensor input(int... shape) {
        return input(1f, shape);
    }

    @Test
    void everyRegisteredOpHasABackwardOrIsMarkedNonDifferentiable() {
        assertThat(GradCheck.opsWithoutBackward()).as("ops without a backward rule").isEmpty();
        assertThat(Argmax.OP.differentiable()).isFalse();
    }

    @Test
    void matmulBothOperandsBatchedBroadcastAndTransposed() {
        try (MemoryScope scope = MemoryScope.open()) {
            GradCheck.check("matmul [7,13]x[13,5]", in -> Ops.matmul(in[0], in[1]), input(7, 13), input(13, 5));
            GradCheck.check("matmul [1,1]x[1,1]", in -> Ops.matmul(in[0], in[1]), input(1, 1), input(1, 1));
            GradCheck.check("matmul batched [2,3,7,4]x[4,5]", in -> Ops.matmul(in[0], in[1]), input(2, 3, 7, 4), input(4, 5));
            GradCheck.check("matmul broadcast batch [3,1,7,4]x[2,4,5]", in -> Ops.matmul(in[0], in[1]), input(3, 1, 7, 4), input(2, 4, 5));
            GradCheck.check("matmul aᵀ·bᵀ through t() views", in -> Ops.matmul(in[0].t(), in[1].t()), input(13, 7), input(5, 13));
        }
    }

    @Test
    void linearInputWeightAndBias() {
        try (MemoryScope scope = MemoryScope.open()) {
            GradCheck.check("linear [7,13] w[5,13] b[5]", in -> Ops.linear(in[0], in[1], in[2]), input(7, 13), input(5, 13), input(5));
            GradCheck.check("linear [2,3,13] no bias", in -> Ops.linear(in[0], in[1], null), input(2, 3, 13), input(1, 13));
            GradCheck.check("linear rank-1 x", in -> Ops.linear(in[0], in[1], in[2]), input(13), input(7, 13), input(7));
        }
    }

    @Test
    void aQuantisedWeightPassesGradientToTheInputButIsRefusedAsATarget() {
        try (MemoryScope scope = MemoryScope.open()) {
            Tensor w = Ops.quantize(input(5, 32));
            GradCheck.check("linear with Q8_0 weight, dX", in -> Ops.linear(in[0], w, null), input(3, 32));
            Tensor x = input(3, 32);
            try (Tape tape = Tape.record()) {
                Tensor y = Ops.linear(x, w, null);
                assertThatThrownBy(() -> tape.backward(y, Tensor.ones(y.shape()), w)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("Q8_0").hasMessageContaining("quantised weights get no gradient");
            }
        }
    }

    @Test
    void binaryOpsWithBroadcasting() {
        try (MemoryScope scope = MemoryScope.open()) {
            int[][][] shapes = {{{7, 13}, {7, 13}}, {{7, 13}, {13}}, {{7, 13}, {7, 1}}, {{1}, {7, 13}}, {{2, 7, 13}, {7, 1}}, {{3, 1, 5}, {1, 7, 1}}};
            for (BinaryOp op : BinaryOp.values()) {
                for (int[][] s : shapes) {
                    Tensor a = input(s[0]);
                    // Divisors kept away from zero, so the quotient is smooth over the step.
                    Tensor b = op == BinaryOp.DIV ? Ops.add(Ops.scale(Tensor.rand(seed++, 0, 1, s[1]), 1f), Tensor.full(1.5f, 1)) : input(s[1]);
                    GradCheck.check(op.label() + " " + java.util.Arrays.toString(s[0]) + " " + java.util.Arrays.toString(s[1]),
                            in -> Ops.binary(op, in[0], in[1]), a, b);
                }
            }
            GradCheck.check("x·x (one tensor, two uses)", in -> Ops.mul(in[0], in[0]), input(13));
        }
    }

    /** Through the test tree's fake device and back; the gradient takes the way back (a strided source, an explicit scope). */
    @Test
    void toDeviceThereAndBackPassesTheGradientBack() {
        Device fake = Backends.device("fake");
        try (MemoryScope scope = MemoryScope.open()) {
            GradCheck.check("toDevice cpu -> fake -> cpu of a transposed view",
                    in -> Ops.scale(Ops.toDevice(Ops.toDevice(in[0].t(), fake), Device.CPU), -3f), input(7, 13));
            GradCheck.check("toDevice into an explicit scope and back", in -> Ops.mul(Ops.toDevice(Ops.toDevice(in[0], fake, scope), Device.CPU), in[1]),
                    input(5, 3), input(5, 3));
            try (Tape tape = Tape.record()) {
                Tensor h = Tensor.ones(2);
                assertThat(Ops.toDevice(h, Device.CPU)).as("no move, no copy").isSameAs(h);
                assertThat(tape.size()).as("nothing to record").isZero();
                assertThat(Ops.toDevice(h, fake, scope).device()).isEqualTo(fake);
                assertThat(tape.size()).as("the scoped front end is recorded too").isEqualTo(1);
            }
        }
    }

    @Test
    void scaleUnaryAndSoftplus() {
        try (MemoryScope scope = MemoryScope.open()) {
            GradCheck.check("scale", in -> Ops.scale(in[0], -2.5f), input(7, 13));
            for (UnaryOp op : UnaryOp.values()) {
                Tensor x = input(1.5f, 7, 13);
                // ReLU has a kink at 0: keep every element at least 0.05 away, more than the step.
                if (op == UnaryOp.RELU) x = Ops.add(x, Ops.scale(Ops.unary(UnaryOp.TANH, Ops.scale(x, 1000f)), 0.05f));
                GradCheck.check(op.label(), in -> Ops.unary(op, in[0]), x);
            }
            GradCheck.check("softplus", in -> Ops.softplus(in[0]), input(3f, 7, 13));
        }
    }

    @Test
    void softmaxAndLogSoftmaxPlainAlongEachDimAndCausal() {
        try (MemoryScope scope = MemoryScope.open()) {
            for (boolean log : new boolean[] {false, true}) {
                String name = log ? "logSoftmax" : "softmax";
                GradCheck.check(name + " last [7,13]", in -> Ops.softmax(in[0], -1, false, log), input(2f, 7, 13));
                GradCheck.check(name + " dim 0 [7,13]", in -> Ops.softmax(in[0], 0, false, log), input(2f, 7, 13));
                GradCheck.check(name + " dim 1 [2,5,3]", in -> Ops.softmax(in[0], 1, false, log), input(2f, 2, 5, 3));
                GradCheck.check(name + " [1]", in -> Ops.softmax(in[0], -1, false, log), input(1));
                GradCheck.check("causal " + name + " [2,7,7]", in -> Ops.softmax(in[0], -1, true, log), input(2f, 2, 7, 7));
                GradCheck.check("causal " + name + " [5,9]", in -> Ops.softmax(in[0], -1, true, log), input(2f, 5, 9));
                int diagonal = 1; // rows 0..4 of a longer causal softmax over 9 keys, cut at query 2
                GradCheck.check("causal " + name + " diagonal 1 [5,9]", in -> Softmax.OP.run(new Softmax(-1, true, log, diagonal), in[0]), input(2f, 5, 9));
            }
        }
    }

    @Test
    void rmsnormAndLayernormWithEveryOptionalVector() {
        try (MemoryScope scope = MemoryScope.open()) {
            GradCheck.check("rmsnorm [7,13] weight", in -> Ops.rmsnorm(in[0], in[1], 1e-5f), input(7, 13), input(13));
            GradCheck.check("rmsnorm [2,3,7] no weight", in -> Ops.rmsnorm(in[0], null, 1e-5f), input(2, 3, 7));
            GradCheck.check("rmsnorm [1,1]", in -> Ops.rmsnorm(in[0], in[1], 1e-5f), input(1, 1), input(1));
            GradCheck.check("layernorm [7,13] weight bias", in -> Ops.layernorm(in[0], in[1], in[2], 1e-5f), input(7, 13), input(13), input(13));
            GradCheck.check("layernorm [3,7] weight", in -> Ops.layernorm(in[0], in[1], null, 1e-5f), input(3, 7), input(7));
            GradCheck.check("layernorm [3,7] bias", in -> Ops.layernorm(in[0], null, in[1], 1e-5f), input(3, 7), input(7));
            GradCheck.check("layernorm [2,2,5] plain", in -> Ops.layernorm(in[0], null, null, 1e-5f), input(2, 2, 5));
        }
    }

    @Test
    void ropeIsTheInverseRotationInBothStyles() {
        try (MemoryScope scope = MemoryScope.open()) {
            for (RopeStyle style : RopeStyle.values()) {
                GradCheck.check("rope " + style + " [1,7,3,8] offset 5", in -> Ops.rope(in[0], 1, 5, 10000.0, style), input(1, 7, 3, 8));
                double[] frequencies = RopeTable.frequencies(6, 500.0, 1, null);
                GradCheck.check("rope " + style + " [13,2,6] magnitude 1.3", in -> Ops.rope(in[0], 0, 2, frequencies, 1.3, style), input(13, 2, 6));
            }
        }
    }

    @Test
    void embeddingScattersIntoTheTableAndRepeatedIdsAdd() {
        try (MemoryScope scope = MemoryScope.open()) {
            Tensor ids = Tensor.ofInts(new int[] {3, 0, 10, 3, 3, 7, 1}, 7);
            GradCheck.check("embedding [11,5] ids [7]", in -> Ops.embedding(in[0], ids), input(11, 5));
            Tensor ids2 = Tensor.ofInts(new int[] {1, 1, 0, 2, 2, 2}, 2, 3);
            GradCheck.check("embedding [3,1] ids [2,3]", in -> Ops.embedding(in[0], ids2), input(3, 1));
        }
    }

    @Test
    void reductionsAlongEachDimKeptAndDropped() {
        try (MemoryScope scope = MemoryScope.open()) {
            for (ReduceOp op : ReduceOp.values()) {
                for (int dim : new int[] {0, 1, -1}) {
                    for (boolean keep : new boolean[] {false, true}) {
                        // Distinct values at least 0.1 apart (a shuffled range), so max's winner does not change within a step.
                        Tensor x = op == ReduceOp.MAX ? shuffledRange(3 * 7 * 13).reshape(3, 7, 13) : input(3, 7, 13);
                        GradCheck.check(op.label() + " dim " + dim + " keep " + keep, in -> Ops.reduce(op, in[0], dim, keep), x);
                    }
                }
            }
        }
    }

    private static Tensor shuffledRange(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = 0.1f * i - 0.05f * n;
        java.util.Random r = new java.util.Random(seed++);
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            float t = v[i];
            v[i] = v[j];
            v[j] = t;
        }
        return Tensor.of(v, n);
    }

    @Test
    void concatReshapePermuteContiguousAndViews() {
        try (MemoryScope scope = MemoryScope.open()) {
            GradCheck.check("concat dim 0", in -> Ops.concat(0, in[0], in[1], in[2]), input(2, 5), input(1, 5), input(7, 5));
            GradCheck.check("concat dim 1", in -> Ops.concat(1, in[0], in[1]), input(3, 2), input(3, 13));
            GradCheck.check("reshape op", in -> Ops.mul(Reshape.OP.run(new Reshape(new int[] {13, 7}), in[0]), in[1]), input(7, 13), input(13, 7));
            GradCheck.check("permute op", in -> Ops.mul(Permute.OP.run(new Permute(new int[] {2, 0, 1}), in[0]), in[1]), input(2, 3, 5), input(5, 2, 3));
            GradCheck.check("transpose().contiguous() then reshape", in -> Ops.mul(in[0].t().contiguous().reshape(-1), in[1]), input(7, 13), input(91));
            GradCheck.check("reshape() of a non-contiguous view", in -> Ops.mul(in[0].t().reshape(91), in[1]), input(7, 13), input(91));
            GradCheck.check("narrow views of one tensor, used twice", in -> Ops.mul(in[0].narrow(0, 0, 3), in[0].narrow(0, 2, 3)), input(7, 5));
            GradCheck.check("expand view", in -> Ops.exp(Ops.mul(in[0].unsqueeze(0).expand(4, 7), in[1])), input(7), input(4, 7));
            GradCheck.check("narrow of an op's output", in -> Ops.tanh(Ops.scale(in[0], 2f).narrow(1, 3, 4)), input(7, 13));
        }
    }

    @Test
    void copyConvertAndNarrowPassTheGradientThrough() {
        try (MemoryScope scope = MemoryScope.open()) {
            GradCheck.check("copy of a strided view", in -> Ops.mul(Ops.copy(in[0].t()), in[1]), input(7, 13), input(13, 7));
            GradCheck.check("convert F32 to F32", in -> Ops.tanh(Ops.convert(in[0], dev.corvus.tensor.DType.F32)), input(5, 3));
            GradCheck.check("narrow op, rows", in -> Ops.tanh(Narrow.OP.run(new Narrow(0, 2, 3), Ops.scale(in[0], 2f))), input(7, 5));
            GradCheck.check("narrow op, last dim of a transposed view", in -> Ops.exp(Narrow.OP.run(new Narrow(-1, 1, 4), in[0].t())), input(7, 5));
            GradCheck.check("split pieces", in -> {
                Tensor[] parts = Ops.split(in[0], 1, 2, 5, 6);
                return Ops.add(Ops.mul(parts[0], parts[0]), Ops.sum(Ops.mul(parts[2], Ops.exp(parts[1].narrow(1, 0, 1))), 1, true));
            }, input(3, 13));
            // convert's rounding is straight through: an F16 result's gradient reaches the F32 input unchanged
            Tensor x = input(4, 6), seed = input(4, 6);
            try (Tape tape = Tape.record()) {
                Tensor y = Ops.convert(Ops.scale(x, 1f), dev.corvus.tensor.DType.F16);
                float[] g = tape.backward(y, seed, x)[0].toFloatArray();
                assertThat(g).containsExactly(seed.toFloatArray());
            }
        }
    }

    @Test
    void gradientsOfUnusedTensorsAreZeroAndTheTapeRunsOnce() {
        try (MemoryScope scope = MemoryScope.open()) {
            Tensor x = input(3), unused = input(4);
            Tape tape = Tape.record();
            Tensor y = Ops.exp(x);
            Tensor[] g = tape.backward(y, Tensor.ones(3), x, unused);
            assertThat(g[1].toFloatArray()).containsOnly(0f);
            assertThat(g[0].toFloatArray()).containsExactly(Ops.exp(x).toFloatArray());
            assertThat(Tape.isRecording()).isFalse();
            assertThatThrownBy(() -> tape.backward(y, Tensor.ones(3), x)).isInstanceOf(IllegalStateException.class).hasMessageContaining("already");
        }
    }

    @Test
    void backwardFreesTheActivationsAndKeepsTheGradients() {
        try (MemoryScope scope = MemoryScope.open()) {
            Tensor x = input(5);
            Tensor y, g;
            try (Tape tape = Tape.record()) {
                y = Ops.tanh(x);
                g = tape.backward(y, Tensor.ones(5), x)[0];
            }
            assertThat(y.scope().isAlive()).isFalse();
            assertThat(g.scope()).isSameAs(scope);
            assertThat(g.toFloatArray()).hasSize(5);
            assertThatThrownBy(() -> Ops.exp(y)).isInstanceOf(IllegalStateException.class).hasMessageContaining("tape activations");
        }
    }

    @Test
    void refusesWhatItCannotDifferentiate() {
        assertThatThrownBy(Tape::record).isInstanceOf(IllegalStateException.class).hasMessageContaining("no MemoryScope");
        try (MemoryScope scope = MemoryScope.open(); Tape tape = Tape.record()) {
            Tensor ids = Tensor.ofInts(new int[] {1}, 1);
            Tensor y = Ops.exp(Tensor.ones(2));
            assertThatThrownBy(() -> tape.backward(y, Tensor.ones(3), ids)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("seed");
            assertThatThrownBy(() -> tape.backward(y, Tensor.ones(2), ids)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("I32");
            assertThatThrownBy(Tape::record).isInstanceOf(IllegalStateException.class).hasMessageContaining("already recording");
        }
    }
}
