package dev.corvus.attention;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.RopeStyle;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.op.OpRegistry;
import dev.corvus.tensor.testing.GradCheck;
import org.junit.jupiter.api.Test;

/**
 * The attention op's backward (FlashAttention's, by recomputation) against finite differences,
 * every registered op's rule present, and a whole transformer block built from registry ops
 * differentiated by the tape, every parameter checked.
 */
class AttentionBackwardTest {
    private static long seed = 100;

    private static Tensor input(float std, int... shape) {
        return Ops.scale(Tensor.randn(seed++, shape), std);
    }

    private static Tensor input(int... shape) {
        return input(1f, shape);
    }

    @Test
    void everyRegisteredOpIncludingAttentionHasABackwardOrIsMarkedNonDifferentiable() {
        assertThat(GradCheck.opsWithoutBackward()).as("ops without a backward rule").isEmpty();
        assertThat(OpRegistry.named("attention")).isPresent();
    }

    private static Tensor attention(Mask mask, float scale, Tensor q, Tensor k, Tensor v) {
        return Attention.OP.run(new Attention(mask, scale, 0f), q, k, v);
    }

    @Test
    void attentionGradientsOfQueriesKeysAndValues() {
        try (MemoryScope scope = MemoryScope.open()) {
            GradCheck.check("attention full [1,2,7,4]", in -> attention(Mask.NONE, 0.5f, in[0], in[1], in[2]),
                    input(1, 2, 7, 4), input(1, 2, 7, 4), input(1, 2, 7, 4));
            GradCheck.check("attention causal, grouped KV [2,3,7,5] / [2,1,7,5]", in -> attention(Mask.causalBottomRight(7, 7), 0.45f, in[0], in[1], in[2]),
                    input(2, 3, 7, 5), input(2, 1, 7, 5), input(2, 1, 7, 5));
            GradCheck.check("attention causal bottom-right 5 queries over 13 keys", in -> attention(Mask.causalBottomRight(5, 13), 0.6f, in[0], in[1], in[2]),
                    input(1, 1, 5, 3), input(1, 1, 13, 3), input(1, 1, 13, 3));
            GradCheck.check("attention of one query and key", in -> attention(Mask.NONE, 1f, in[0], in[1], in[2]), input(1, 1, 1, 1), input(1, 1, 1, 1),
                    input(1, 1, 1, 1));
        }
    }

    @Test
    void slidingWindowAndSoftCappedAttentionGradients() {
        try (MemoryScope scope = MemoryScope.open()) {
            GradCheck.check("attention window 3, softcap 2, grouped KV [1,2,9,4] / [1,1,9,4]",
                    in -> Attention.OP.run(new Attention(Mask.slidingWindowBottomRight(9, 9, 3), 0.5f, 2f), in[0], in[1], in[2]),
                    input(2f, 1, 2, 9, 4), input(1, 1, 9, 4), input(1, 1, 9, 4));
            GradCheck.check("attention softcap 30, no window [1,1,7,5]",
                    in -> Attention.OP.run(new Attention(Mask.causalBottomRight(7, 7), 0.45f, 30f), in[0], in[1], in[2]),
                    input(1, 1, 7, 5), input(1, 1, 7, 5), input(1, 1, 7, 5));
            GradCheck.check("attention window 1 (each query sees itself)",
                    in -> Attention.OP.run(new Attention(Mask.slidingWindowBottomRight(5, 5, 1), 0.5f, 0f), in[0], in[1], in[2]),
                    input(1, 1, 5, 3), input(1, 1, 5, 3), input(1, 1, 5, 3));
        }
    }

    /**
     * A pre-norm decoder block over T tokens of width C: rmsnorm → q/k/v linears (grouped KV) → rope
     * → causal attention → output linear → residual → rmsnorm → SiLU-gated MLP → residual.
     * params: x, norm1, wq, wk, wv, wo, norm2, wGate, wUp, wDown.
     */
    private static Tensor block(Tensor[] p, int heads, int kvHeads, int headDim) {
        Tensor x = p[0];
        int t = x.size(0), c = x.size(1);
        Tensor h = Ops.rmsnorm(x, p[1], 1e-5f);
        Tensor q = Ops.rope(Ops.linear(h, p[2], null).reshape(t, heads, headDim), 0, 3, 10000.0, RopeStyle.HALF_SPLIT);
        Tensor k = Ops.rope(Ops.linear(h, p[3], null).reshape(t, kvHeads, headDim), 0, 3, 10000.0, RopeStyle.HALF_SPLIT);
        Tensor v = Ops.linear(h, p[4], null).reshape(t, kvHeads, headDim);
        Tensor att = attention(Mask.causalBottomRight(t, t), (float) (1 / Math.sqrt(headDim)), q.permute(1, 0, 2).unsqueeze(0),
                k.permute(1, 0, 2).unsqueeze(0), v.permute(1, 0, 2).unsqueeze(0));
        Tensor merged = att.squeeze(0).permute(1, 0, 2).reshape(t, c);
        Tensor x1 = Ops.add(x, Ops.linear(merged, p[5], null));
        Tensor h2 = Ops.rmsnorm(x1, p[6], 1e-5f);
        Tensor mlp = Ops.linear(Ops.mul(Ops.silu(Ops.linear(h2, p[7], null)), Ops.linear(h2, p[8], null)), p[9], null);
        return Ops.add(x1, mlp);
    }

    @Test
    void aTransformerBlockBuiltFromRegistryOpsHasEveryParameterGradientRight() {
        try (MemoryScope scope = MemoryScope.open()) {
            int t = 7, heads = 2, kvHeads = 1, headDim = 4, c = heads * headDim, ffn = 13;
            float ws = 0.5f;
            Tensor[] params = {input(t, c), Ops.add(Tensor.full(1f, c), input(0.1f, c)), input(ws, c, c), input(ws, kvHeads * headDim, c),
                    input(ws, kvHeads * headDim, c), input(ws, c, c), Ops.add(Tensor.full(1f, c), input(0.1f, c)), input(ws, ffn, c), input(ws, ffn, c),
                    input(ws, c, ffn)};
            GradCheck.check("transformer block", 1e-2, 3e-3, c * ffn, in -> block(in, heads, kvHeads, headDim), params);
        }
    }
}
