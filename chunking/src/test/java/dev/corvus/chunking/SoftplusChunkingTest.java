package dev.corvus.chunking;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.testing.Close;
import org.junit.jupiter.api.Test;

/** softplus, added through its registry entry, traces, chunks and is estimated like the ops that were there before it. */
class SoftplusChunkingTest {
    @Test
    void chunkedSoftplusMlpEqualsTheUnchunkedRunWithThePeakItsEstimateSays() {
        try (MemoryScope scope = MemoryScope.open()) {
            int t = 211, c = 24, hidden = 96;
            Tensor w1 = Tensor.randn(scope, 1, 0.2f, hidden, c), w2 = Tensor.randn(scope, 2, 0.2f, c, hidden);
            Tracer tr = new Tracer();
            Node x = tr.input("x", t, c);
            Node h = tr.softplus(tr.linear(x, tr.param("w1", w1), null));
            assertThat(DimRules.flow(h, 0)).containsExactly(0);
            Graph g = tr.build(tr.add(x, tr.linear(h, tr.param("w2", w2), null)));
            Tensor in = Tensor.randn(3, t, c);
            float[] eager = Ops.add(in, Ops.linear(Ops.softplus(Ops.linear(in, w1, null)), w2, null)).toFloatArray();
            ChunkedProgram plain = AutoChunk.unchunked(g);
            try (Execution r = plain.run(in)) {
                Close.assertAllClose("unchunked", eager, r.output(0).toFloatArray(), 1e-5, 1e-5);
                assertThat(r.peakBytes()).isEqualTo(plain.estimatedPeakBytes());
            }
            long smallest = AutoChunk.smallestReachablePeak(g);
            assertThat(smallest).isLessThan(plain.estimatedPeakBytes());
            ChunkedProgram p = AutoChunk.compile(g, smallest, ChunkTimeModel.NOMINAL);
            assertThat(p.regions()).isNotEmpty();
            assertThat(p.explain()).contains("softplus");
            try (Execution r = p.run(in)) {
                Close.assertAllClose(p.explain(), eager, r.output(0).toFloatArray(), 1e-5, 1e-5);
                assertThat(r.peakBytes()).as(p.explain()).isEqualTo(p.estimatedPeakBytes()).isLessThanOrEqualTo(p.budgetBytes());
            }
            assertThat(ChunkTimeModel.NOMINAL.graphNs(g)).as("the time model prices it as a bandwidth-bound op").isPositive();
        }
    }
}
