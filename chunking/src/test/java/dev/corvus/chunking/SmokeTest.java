package dev.corvus.chunking;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.testing.Close;
import org.junit.jupiter.api.Test;

class SmokeTest {
    @Test
    void attentionLayerChunksAndMatches() {
        try (MemoryScope scope = MemoryScope.open()) {
            int t = 256, c = 64, h = 4, d = 16;
            Tracer tr = new Tracer();
            Node x = tr.input("x", t, c);
            Node xn = tr.rmsnorm(x, tr.param("g", Tensor.randn(1, c)), 1e-5f);
            Node q = tr.permute(tr.reshape(tr.linear(xn, tr.param("wq", Tensor.randn(scope, 2, 0.1f, c, c)), null), t, h, d), 1, 0, 2);
            Node k = tr.permute(tr.reshape(tr.linear(xn, tr.param("wk", Tensor.randn(scope, 3, 0.1f, c, c)), null), t, h, d), 1, 0, 2);
            Node v = tr.permute(tr.reshape(tr.linear(xn, tr.param("wv", Tensor.randn(scope, 4, 0.1f, c, c)), null), t, h, d), 1, 0, 2);
            Node s = tr.causalSoftmax(tr.scale(tr.matmul(q, tr.transpose(k, 1, 2)), 0.25f));
            Node o = tr.reshape(tr.permute(tr.matmul(s, v), 1, 0, 2), t, c);
            Node y = tr.add(x, tr.linear(o, tr.param("wo", Tensor.randn(scope, 5, 0.1f, c, c)), null));
            Graph g = tr.build(y);
            Tensor in = Tensor.randn(9, t, c);
            ChunkedProgram plain = AutoChunk.unchunked(g);
            float[] ref;
            long plainPeak;
            try (Execution r = plain.run(in)) {
                ref = r.output(0).toFloatArray();
                plainPeak = r.peakBytes();
                System.out.println("unchunked measured " + plainPeak + " estimated " + plain.estimatedPeakBytes());
            }
            ChunkedProgram p = AutoChunk.compile(g, plain.estimatedPeakBytes() / 5);
            System.out.println(p.explain());
            try (Execution r = p.run(in)) {
                Close.assertAllClose("chunked", ref, r.output(0).toFloatArray(), 1e-5, 1e-5);
                System.out.println("chunked measured " + r.peakBytes() + " estimated " + p.estimatedPeakBytes());
                assertThat(r.peakBytes()).isLessThanOrEqualTo(p.budgetBytes());
            }
        }
    }
}
