package dev.corvus.tensor.op;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.MemoryStats;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * {@link Tape#checkpoint}: a checkpointed segment's gradients equal the same computation recorded
 * op by op (nested segments and a view of a segment's output included), the activations held
 * between forward and backward shrink, and a segment that changes when run again is reported.
 */
class TapeCheckpointTest {
    private static final int ROWS = 37, DIM = 19, HIDDEN = 53, BLOCKS = 4;

    /** One residual MLP block: x + (silu(x·w1ᵀ) ∘ (x·w3ᵀ))·w2ᵀ, its hidden activations [ROWS, HIDDEN] the big ones. */
    private static Tensor block(Tensor x, Tensor w1, Tensor w2, Tensor w3) {
        Tensor gate = Ops.silu(Ops.linear(x, w1, null));
        return Ops.add(x, Ops.linear(Ops.mul(gate, Ops.linear(x, w3, null)), w2, null));
    }

    /** BLOCKS blocks, each checkpointed or not; the last output read through a narrowed view, as a decoder's last row is. */
    private static Tensor network(Tensor x, Tensor[] w, boolean checkpoint, boolean nested) {
        for (int b = 0; b < BLOCKS; b++) {
            Tensor w1 = w[3 * b], w2 = w[3 * b + 1], w3 = w[3 * b + 2];
            if (!checkpoint) {
                x = block(x, w1, w2, w3);
            } else if (nested && b % 2 == 0) {
                // a segment of two blocks whose first block is itself a segment
                Tensor v1 = w[3 * b + 3], v2 = w[3 * b + 4], v3 = w[3 * b + 5];
                Function<Tensor[], Tensor> inner = in -> block(in[0], in[1], in[2], in[3]);
                String innerLabel = "inner " + b;
                x = Tape.checkpoint("pair " + b, in -> block(Tape.checkpoint(innerLabel, inner, in[0], in[1], in[2], in[3]), in[4], in[5], in[6]),
                        x, w1, w2, w3, v1, v2, v3);
                b++;
            } else {
                x = Tape.checkpoint("block " + b, in -> block(in[0], in[1], in[2], in[3]), x, w1, w2, w3);
            }
        }
        return Ops.rmsnorm(x.narrow(0, 3, ROWS - 5), Tensor.ones(DIM), 1e-5f);
    }

    private record Run(float[][] grads, long peakBytes) {}

    private static Run run(Tensor x, Tensor[] w, boolean checkpoint, boolean nested) {
        try (MemoryScope scope = MemoryScope.open("run")) {
            Tensor[] wrt = new Tensor[w.length + 1];
            wrt[0] = x;
            System.arraycopy(w, 0, wrt, 1, w.length);
            long before = MemoryStats.liveBytes();
            MemoryStats.resetPeak();
            Tensor[] g;
            try (Tape tape = Tape.record()) {
                Tensor out = network(x, w, checkpoint, nested);
                Tensor seed = Tensor.randn(99, out.shape());
                g = tape.backward(out, seed, wrt);
            }
            long peak = MemoryStats.peakBytes() - before;
            float[][] values = new float[g.length][];
            for (int i = 0; i < g.length; i++) values[i] = g[i].toFloatArray();
            return new Run(values, peak);
        }
    }

    private static Tensor[] weights() {
        Tensor[] w = new Tensor[3 * BLOCKS];
        for (int b = 0; b < BLOCKS; b++) {
            w[3 * b] = Ops.scale(Tensor.randn(10 + b, HIDDEN, DIM), 0.3f);
            w[3 * b + 1] = Ops.scale(Tensor.randn(20 + b, DIM, HIDDEN), 0.2f);
            w[3 * b + 2] = Ops.scale(Tensor.randn(30 + b, HIDDEN, DIM), 0.3f);
        }
        return w;
    }

    @Test
    void checkpointedSegmentsGiveTheGradientsOfThePlainTapeAndHoldLess() {
        try (MemoryScope scope = MemoryScope.open("test")) {
            Tensor x = Tensor.randn(1, ROWS, DIM);
            Tensor[] w = weights();
            Run plain = run(x, w, false, false), checkpointed = run(x, w, true, false), nested = run(x, w, true, true);
            for (int i = 0; i < plain.grads().length; i++) {
                // the same kernels on the same values in the same order: equal, not merely close
                assertThat(checkpointed.grads()[i]).as("gradient %d, one segment per block", i).containsExactly(plain.grads()[i]);
                assertThat(nested.grads()[i]).as("gradient %d, nested segments", i).containsExactly(plain.grads()[i]);
            }
            // plain: every block's [ROWS, HIDDEN] activations at once; checkpointed: one block's while its backward runs
            assertThat(checkpointed.peakBytes()).as("peak bytes with checkpointing (plain %d)", plain.peakBytes()).isLessThan(plain.peakBytes() * 3 / 4);
        }
    }

    @Test
    void withoutATapeASegmentIsItsBody() {
        try (MemoryScope scope = MemoryScope.open("test")) {
            Tensor x = Tensor.randn(3, ROWS, DIM);
            Tensor[] w = weights();
            assertThat(network(x, w, true, true).toFloatArray()).containsExactly(network(x, w, false, false).toFloatArray());
        }
    }

    @Test
    void aSegmentThatChangesShapeWhenRunAgainIsNamed() {
        try (MemoryScope scope = MemoryScope.open("test")) {
            Tensor x = Tensor.randn(4, 6, 5);
            int[] calls = {0};
            try (Tape tape = Tape.record()) {
                Tensor y = Tape.checkpoint("shifty", in -> calls[0]++ == 0 ? Ops.silu(in[0]) : Ops.silu(in[0].narrow(0, 0, 2)), x);
                assertThatThrownBy(() -> tape.backward(y, Tensor.ones(y.shape()), x)).isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("shifty").hasMessageContaining("[2, 5]").hasMessageContaining("[6, 5]");
            }
        }
    }
}
