package dev.corvus.chunking;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.RopeStyle;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.testing.Close;
import org.junit.jupiter.api.Test;

class ExplainAndRunTest {
    private static final ChunkTimeModel COST = ChunkTimeModel.NOMINAL;

    /** Causal attention with rope: chunking along queries shifts the mask diagonal and the rope positions. */
    @Test
    void queryChunkedCausalAttentionWithRopeMatchesAndExplainsItself() {
        try (MemoryScope scope = MemoryScope.open()) {
            int t = 97, c = 32, h = 4, d = 8;
            Tracer tr = new Tracer();
            Node x = tr.input("x", t, c);
            Node xn = tr.rmsnorm(x, tr.param("g", Tensor.randn(1, c)), 1e-5f);
            Node q = tr.rope(tr.permute(tr.reshape(tr.linear(xn, tr.param("wq", Tensor.randn(scope, 2, 0.2f, c, c)), null), t, h, d), 1, 0, 2),
                    1, 0, 10000, RopeStyle.INTERLEAVED);
            Node k = tr.rope(tr.permute(tr.reshape(tr.linear(xn, tr.param("wk", Tensor.randn(scope, 3, 0.2f, c, c)), null), t, h, d), 1, 0, 2),
                    1, 0, 10000, RopeStyle.INTERLEAVED);
            Node v = tr.permute(tr.reshape(tr.linear(xn, tr.param("wv", Tensor.randn(scope, 4, 0.2f, c, c)), null), t, h, d), 1, 0, 2);
            Node s = tr.causalSoftmax(tr.scale(tr.matmul(q, tr.transpose(k, 1, 2)), 0.35f));
            Node o = tr.reshape(tr.permute(tr.matmul(s, v), 1, 0, 2), t, c);
            Graph g = tr.build(tr.add(x, tr.linear(o, tr.param("wo", Tensor.randn(scope, 5, 0.2f, c, c)), null)));
            Tensor in = Tensor.randn(9, t, c);
            ChunkedProgram plain = AutoChunk.unchunked(g);
            float[] ref;
            try (Execution r = plain.run(in)) {
                ref = r.output(0).toFloatArray();
                assertThat(r.peakBytes()).isEqualTo(plain.estimatedPeakBytes());
            }
            long smallest = AutoChunk.smallestReachablePeak(g);
            for (double f : new double[] {0.5, 0.2, 0}) {
                long budget = smallest + (long) ((plain.estimatedPeakBytes() - smallest) * f);
                ChunkedProgram p = AutoChunk.compile(g, budget, COST);
                assertThat(p.regions()).isNotEmpty();
                try (Execution r = p.run(in)) {
                    Close.assertAllClose("budget " + budget + "\n" + p.explain(), ref, r.output(0).toFloatArray(), 1e-5, 1e-5);
                    assertThat(r.peakBytes()).isEqualTo(p.estimatedPeakBytes()).isLessThanOrEqualTo(p.budgetBytes());
                }
                String explain = p.explain();
                assertThat(explain).contains("region 0", "chunk dim", "-> output", "estimated peak", "budget", "iterations");
            }
        }
    }

    @Test
    void flashAttentionChunksAlongQueriesWithTheQueryStartShifted() {
        try (MemoryScope scope = MemoryScope.open()) {
            Tracer tr = new Tracer();
            Node q = tr.input("q", 1, 2, 61, 16);
            Node kv = tr.input("kv", 1, 2, 61, 16);
            Node a = tr.attention(tr.scale(q, 1.5f), kv, kv, true, 0.25f);
            Graph g = tr.build(tr.silu(a));
            Tensor qt = Tensor.randn(1, 1, 2, 61, 16), kt = Tensor.randn(2, 1, 2, 61, 16);
            float[] ref;
            try (Execution r = AutoChunk.unchunked(g).run(qt, kt)) {
                ref = r.output(0).toFloatArray();
            }
            ChunkedProgram p = AutoChunk.compile(g, AutoChunk.smallestReachablePeak(g), COST);
            assertThat(p.regions()).isNotEmpty();
            try (Execution r = p.run(qt, kt)) {
                Close.assertAllClose(p.explain(), ref, r.output(0).toFloatArray(), 1e-6, 1e-6);
            }
        }
    }

    /** Chunk buffers whose size changes every iteration (a causal softmax's visible keys) must not pile up. */
    @Test
    void theFootprintStaysNearTheLivePeakWhenBufferSizesVary() {
        try (MemoryScope scope = MemoryScope.open()) {
            Tracer tr = new Tracer();
            Node q = tr.input("q", 4, 2048, 64), k = tr.input("k", 4, 2048, 64), v = tr.input("v", 4, 2048, 64);
            Graph g = tr.build(tr.matmul(tr.causalSoftmax(tr.scale(tr.matmul(q, tr.transpose(k, 1, 2)), 0.125f)), v));
            ChunkedProgram p = AutoChunk.compile(g, AutoChunk.unchunked(g).estimatedPeakBytes() / 10, COST);
            Tensor qt = Tensor.randn(1, 4, 2048, 64), kt = Tensor.randn(2, 4, 2048, 64), vt = Tensor.randn(3, 4, 2048, 64);
            try (Execution r = p.run(qt, kt, vt)) {
                assertThat(r.peakBytes()).isLessThanOrEqualTo(p.budgetBytes());
                assertThat(r.footprintBytes()).as(p.explain()).isLessThanOrEqualTo(p.estimatedPeakBytes() + p.estimatedPeakBytes() / 4);
            }
        }
    }
}
