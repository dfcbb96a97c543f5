package dev.corvus.chunking.models;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.chunking.AutoChunk;
import dev.corvus.chunking.ChunkRegion;
import dev.corvus.chunking.ChunkedProgram;
import dev.corvus.chunking.ChunkTimeModel;
import dev.corvus.chunking.Execution;
import dev.corvus.chunking.Graph;
import dev.corvus.chunking.Node;
import dev.corvus.chunking.Tracer;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.testing.Close;
import org.junit.jupiter.api.Test;

/**
 * A region with two outputs. The models' plans have single-output regions, so this is the shape
 * where the compiler has no other choice (as in AlphaFold's outer-product mean): a wide hidden
 * h = relu(x·w1) feeds two projections a and b that a product over the sequence then contracts,
 * so the loop must run h's producer and both consumers, and write a and b.
 */
class MultiOutputRegionTest {
    @Test
    void twoProjectionsOfOneWideHiddenLeaveTheLoopTogether() {
        int t = 300, c = 32, hidden = 256;
        try (MemoryScope weights = MemoryScope.detached("weights")) {
            Tracer tr = new Tracer();
            Node x = tr.input("x", t, c);
            Node h = tr.relu(tr.linear(x, tr.param("w1", Tensor.randn(weights, 1, 0.2f, hidden, c)), null));
            Node a = tr.linear(h, tr.param("w2", Tensor.randn(weights, 2, 0.06f, c, hidden)), null);
            Node b = tr.linear(h, tr.param("w3", Tensor.randn(weights, 3, 0.06f, c, hidden)), null);
            Graph g = tr.build(tr.matmul(tr.transpose(a, 0, 1), b)); // [c, c]: sums over the sequence
            Tensor in = Tensor.randn(weights, 4, 1f, t, c);

            ChunkedProgram plain = AutoChunk.unchunked(g);
            long budget = plain.estimatedPeakBytes() / 5;
            ChunkedProgram p = AutoChunk.compile(g, budget, ChunkTimeModel.NOMINAL);
            assertThat(p.regions()).as(p.explain()).anySatisfy(r -> assertThat(r.outputs()).hasSize(2));
            ChunkRegion two = p.regions().stream().filter(r -> r.outputs().size() == 2).findFirst().orElseThrow();
            assertThat(two.extent() % two.chunkSize()).as("chunk %d of %d", two.chunkSize(), two.extent()).isNotZero();
            try (Execution ref = plain.run(in); Execution run = p.run(in)) {
                Close.assertAllClose("two-output region", ref.output(0).toFloatArray(), run.output(0).toFloatArray(), 1e-4, 1e-5);
                assertThat(run.peakBytes()).isEqualTo(p.estimatedPeakBytes()).isLessThanOrEqualTo(budget);
            }
        }
    }
}
