package dev.corvus.attention.dsp;

import dev.corvus.attention.FlashAttention;
import dev.corvus.attention.Mask;
import dev.corvus.comm.Communicator;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A stack of spatial-temporal transformer blocks on video activations x [B, T, S, C] (T frames,
 * S patches per frame), run three ways on the same weights:
 *
 * <ul>
 *   <li>{@link #forward}: single device, the reference.
 *   <li>{@link #forwardDsp}: Dynamic Sequence Parallelism (papers.md 3.3, the STDiT3 schedule).
 *       x is split along S; temporal attention and the MLP run locally (S sharded, T complete);
 *       spatial attention is wrapped by a switch S→T, attends over the complete S, and switches
 *       T→S. Two all-to-alls per block. With T = 1 (images) the switch goes to the batch dim.
 *   <li>{@link #forwardUlysses}: the embedded-SP baseline. The sequence is sharded once
 *       ({@link UlyssesSharding}); an attention over a dim that is not complete locally moves q,
 *       k, v from token to head shards and its output back (4 all-to-alls).
 * </ul>
 *
 * Each block is x += SpatialAttn(LN(x)); x += TemporalAttn(LN(x)); x += MLP(LN(x)) with
 * multi-head attention (C = heads · headDim, Q/K/V/O projections with bias, no mask) and a
 * linear-GELU-linear MLP.
 */
public final class SpatialTemporalTransformer {
    private SpatialTemporalTransformer() {}

    /** Dimensions of the activation [B, T, S, C]. */
    public static final int BATCH = 0, TIME = 1, SPACE = 2, CHANNELS = 3;

    /** Model sizes. */
    public record Config(int channels, int heads, int mlpHidden, float eps) {
        public Config {
            if (heads < 1 || channels % heads != 0) {
                throw new IllegalArgumentException(channels + " channels do not split into " + heads + " heads");
            }
        }

        public int headDim() {
            return channels / heads;
        }

        float scale() {
            return (float) (1 / Math.sqrt(headDim()));
        }
    }

    /** Pre-norm and projections of one multi-head self-attention; w* are [C, C], b* [C]. */
    public record Attention(Tensor normWeight, Tensor normBias, Tensor wq, Tensor bq, Tensor wk, Tensor bk, Tensor wv, Tensor bv,
            Tensor wo, Tensor bo) {}

    /** Pre-norm and the two linears of the MLP: w1 [hidden, C], w2 [C, hidden]. */
    public record Mlp(Tensor normWeight, Tensor normBias, Tensor w1, Tensor b1, Tensor w2, Tensor b2) {}

    public record Block(Attention spatial, Attention temporal, Mlp mlp) {}

    public record Weights(Config config, List<Block> blocks) {
        public Weights {
            blocks = List.copyOf(blocks);
        }
    }

    /** How the Ulysses baseline shards the sequence. */
    public enum UlyssesSharding {
        /** Shard S only: spatial attention communicates (4 all-to-alls per block), temporal is local. */
        SPATIAL,
        /** Shard the flattened T·S sequence (T-major), as in LLM-style Ulysses: both attentions communicate (8 per block). */
        FLATTENED
    }

    /** Seeded random weights in {@code scope}: projections ~ N(0, 1/fan-in), norm gains ~ 1 + N(0, 0.01), biases ~ N(0, 0.01). */
    public static Weights random(Config config, int blocks, long seed, MemoryScope scope) {
        int c = config.channels(), hidden = config.mlpHidden();
        SplittableRandom rnd = new SplittableRandom(seed);
        List<Block> list = new ArrayList<>();
        for (int i = 0; i < blocks; i++) {
            Attention[] attn = new Attention[2];
            for (int a = 0; a < 2; a++) {
                attn[a] = new Attention(normal(scope, rnd, 1, 0.1, c), normal(scope, rnd, 0, 0.1, c),
                        normal(scope, rnd, 0, 1 / Math.sqrt(c), c, c), normal(scope, rnd, 0, 0.1, c),
                        normal(scope, rnd, 0, 1 / Math.sqrt(c), c, c), normal(scope, rnd, 0, 0.1, c),
                        normal(scope, rnd, 0, 1 / Math.sqrt(c), c, c), normal(scope, rnd, 0, 0.1, c),
                        normal(scope, rnd, 0, 1 / Math.sqrt(c), c, c), normal(scope, rnd, 0, 0.1, c));
            }
            Mlp mlp = new Mlp(normal(scope, rnd, 1, 0.1, c), normal(scope, rnd, 0, 0.1, c),
                    normal(scope, rnd, 0, 1 / Math.sqrt(c), hidden, c), normal(scope, rnd, 0, 0.1, hidden),
                    normal(scope, rnd, 0, 1 / Math.sqrt(hidden), c, hidden), normal(scope, rnd, 0, 0.1, c));
            list.add(new Block(attn[0], attn[1], mlp));
        }
        return new Weights(config, list);
    }

    private static Tensor normal(MemoryScope scope, SplittableRandom rnd, double mean, double std, int... shape) {
        float[] v = new float[Math.toIntExact(Arrays.stream(shape).asLongStream().reduce(1, (a, b) -> a * b))];
        for (int i = 0; i < v.length; i++) v[i] = (float) (mean + std * rnd.nextGaussian());
        return Tensor.of(scope, v, shape);
    }

    // ---------------------------------------------------------------- single device

    /** The reference forward pass on the full x [B, T, S, C]. */
    public static Tensor forward(Weights weights, Tensor x) {
        Config c = weights.config();
        checkInput(c, x);
        for (Block b : weights.blocks()) {
            x = Ops.add(x, attentionLocal(c, b.spatial(), norm(c, b.spatial(), x), SPACE));
            x = Ops.add(x, attentionLocal(c, b.temporal(), norm(c, b.temporal(), x), TIME));
            x = Ops.add(x, mlp(c, b.mlp(), x));
        }
        return x;
    }

    // ---------------------------------------------------------------- DSP

    /** DSP forward from the full x: split along S, run {@link #forwardDsp(Communicator, Weights, Tensor, DspLayout)}, gather S. */
    public static Tensor forwardDsp(Communicator comm, Weights weights, Tensor x) {
        DspLayout layout = new DspLayout(x.shape(), SPACE, comm.size());
        Tensor local = forwardDsp(comm, weights, DspSharding.split(comm, x, layout, 0f), layout);
        return DspSharding.gather(comm, local, layout);
    }

    /**
     * DSP forward on this rank's S shard {@code local} (layout sharded on {@link #SPACE}); returns
     * the output shard in the same layout. Pad slots of the input may hold anything (even NaN):
     * they stay in their own rows and are dropped by the first switch.
     */
    public static Tensor forwardDsp(Communicator comm, Weights weights, Tensor local, DspLayout layout) {
        Config c = weights.config();
        if (layout.shardDim() != SPACE || layout.globalSizes().length != 4) {
            throw new IllegalArgumentException("forwardDsp expects [B, T, S, C] sharded along S (dim 2), got " + layout);
        }
        // Spatial attention needs S complete: leave the S shard for T, or for the batch when there is one frame.
        int other = spatialSwitchDim(layout.globalSize(TIME));
        DspLayout switched = layout.switchTo(other);
        Tensor x = local;
        for (Block b : weights.blocks()) {
            Tensor h = DspSharding.dynamicSwitch(comm, norm(c, b.spatial(), x), layout, other);
            Tensor a = attentionLocal(c, b.spatial(), h, SPACE);
            x = Ops.add(x, DspSharding.dynamicSwitch(comm, a, switched, SPACE));
            x = Ops.add(x, attentionLocal(c, b.temporal(), norm(c, b.temporal(), x), TIME));
            x = Ops.add(x, mlp(c, b.mlp(), x));
        }
        return x;
    }

    /** The dim DSP shards while S is attended: T, or the batch for images (T = 1), papers.md 3.3. */
    public static int spatialSwitchDim(int frames) {
        return frames > 1 ? TIME : BATCH;
    }

    // ---------------------------------------------------------------- Ulysses baseline

    /**
     * The Ulysses baseline from the full x: shard the sequence as {@code sharding} says, run every
     * block, all-gather the output. Needs heads % P == 0; T and S need not divide P (the sharded
     * sequence dim is padded like DSP's).
     */
    public static Tensor forwardUlysses(Communicator comm, Weights weights, Tensor x, UlyssesSharding sharding) {
        Config c = weights.config();
        checkInput(c, x);
        int p = comm.size();
        if (c.heads() % p != 0) {
            throw new IllegalArgumentException("Ulysses needs the " + c.heads() + " heads divisible by the " + p + " ranks");
        }
        int bs = x.size(BATCH), t = x.size(TIME), s = x.size(SPACE), ch = x.size(CHANNELS);
        // FLATTENED works on tokens [B, T·S, C] sharded along dim 1; SPATIAL on [B, T, S, C] sharded along S.
        Tensor tokens = sharding == UlyssesSharding.FLATTENED ? x.reshape(bs, t * s, ch) : x;
        DspLayout layout = new DspLayout(tokens.shape(), sharding == UlyssesSharding.FLATTENED ? 1 : SPACE, p);
        Tensor xl = DspSharding.split(comm, tokens, layout, 0f);
        for (Block b : weights.blocks()) {
            xl = Ops.add(xl, attentionUlysses(comm, c, b.spatial(), norm(c, b.spatial(), xl), layout, t, s, SPACE));
            xl = Ops.add(xl, attentionUlysses(comm, c, b.temporal(), norm(c, b.temporal(), xl), layout, t, s, TIME));
            xl = Ops.add(xl, mlp(c, b.mlp(), xl));
        }
        return DspSharding.gather(comm, xl, layout).reshape(bs, t, s, ch);
    }

    /**
     * One attention under Ulysses: when the attended dim is sharded (always for FLATTENED, for S
     * under SPATIAL), q, k, v go from token shards to head shards (all-to-all scattering heads,
     * gathering the sequence, its pad stripped), attend, and the output comes back (all-to-all
     * scattering the sequence, gathering heads).
     */
    private static Tensor attentionUlysses(Communicator comm, Config c, Attention w, Tensor h, DspLayout layout, int frames, int patches,
            int over) {
        boolean flattened = layout.globalSizes().length == 3;
        if (!flattened && over == TIME) return attentionLocal(c, w, h, TIME); // S sharded, T complete
        int[] local = h.shape();
        int rank = local.length;
        // Split channels into heads: [..., C] -> [..., H, hd]; heads sit at dim rank - 1; the head all-to-alls are dynamic switches between the token dim and the heads dim.
        int[] qkvLocal = withHeads(local, c), qkvGlobal = withHeads(layout.globalSizes(), c);
        DspLayout tokenShard = new DspLayout(qkvGlobal, layout.shardDim(), layout.ranks());
        int headsDim = rank - 1;
        Tensor q = DspSharding.dynamicSwitch(comm, Ops.linear(h, w.wq(), w.bq()).view(qkvLocal), tokenShard, headsDim);
        Tensor k = DspSharding.dynamicSwitch(comm, Ops.linear(h, w.wk(), w.bk()).view(qkvLocal), tokenShard, headsDim);
        Tensor v = DspSharding.dynamicSwitch(comm, Ops.linear(h, w.wv(), w.bv()).view(qkvLocal), tokenShard, headsDim);
        int bs = q.size(0), hp = q.size(headsDim);
        int[] video = {bs, frames, patches, hp, c.headDim()};
        Tensor o = attend(q.view(video), k.view(video), v.view(video), over, c.scale()).view(q.shape());
        Tensor back = DspSharding.dynamicSwitch(comm, o, tokenShard.switchTo(headsDim), layout.shardDim());
        return Ops.linear(back.view(local), w.wo(), w.bo());
    }

    private static int[] withHeads(int[] shape, Config c) {
        int[] s = Arrays.copyOf(shape, shape.length + 1);
        s[shape.length - 1] = c.heads();
        s[shape.length] = c.headDim();
        return s;
    }

    // ---------------------------------------------------------------- shared pieces

    private static Tensor norm(Config c, Attention w, Tensor x) {
        return Ops.layernorm(x, w.normWeight(), w.normBias(), c.eps());
    }

    private static Tensor mlp(Config c, Mlp w, Tensor x) {
        Tensor h = Ops.layernorm(x, w.normWeight(), w.normBias(), c.eps());
        return Ops.linear(Ops.gelu(Ops.linear(h, w.w1(), w.b1()), true), w.w2(), w.b2());
    }

    /** Multi-head self-attention over {@code over} (TIME or SPACE) of a normed h [B, T, S, C] held whole along that dim. */
    private static Tensor attentionLocal(Config c, Attention w, Tensor h, int over) {
        int[] shape = h.shape();
        int[] heads = {shape[0], shape[1], shape[2], c.heads(), c.headDim()};
        Tensor q = Ops.linear(h, w.wq(), w.bq()).view(heads);
        Tensor k = Ops.linear(h, w.wk(), w.bk()).view(heads);
        Tensor v = Ops.linear(h, w.wv(), w.bv()).view(heads);
        return Ops.linear(attend(q, k, v, over, c.scale()).view(shape), w.wo(), w.bo());
    }

    /**
     * Attention over dim {@code over} of q, k, v [B, T, S, H, hd], the other of T and S acting as
     * batch: laid out as [B·T, H, S, hd] (spatial) or [B·S, H, T, hd] (temporal) for flash
     * attention. Returns [B, T, S, H, hd], contiguous.
     */
    static Tensor attend(Tensor q, Tensor k, Tensor v, int over, float scale) {
        int[] s = q.shape();
        int bs = s[0], t = s[1], sp = s[2], h = s[3], d = s[4];
        boolean spatial = switch (over) {
            case SPACE -> true;
            case TIME -> false;
            default -> throw new IllegalArgumentException("attention runs over T (1) or S (2), not dim " + over);
        };
        int[] toFlash = spatial ? new int[] {0, 1, 3, 2, 4} : new int[] {0, 2, 3, 1, 4};
        int[] flash = spatial ? new int[] {bs * t, h, sp, d} : new int[] {bs * sp, h, t, d};
        FlashAttention.Result r = FlashAttention.forward(q.permute(toFlash).reshape(flash), k.permute(toFlash).reshape(flash),
                v.permute(toFlash).reshape(flash), Mask.NONE, scale);
        Tensor out = spatial ? r.out().reshape(bs, t, h, sp, d).permute(0, 1, 3, 2, 4) : r.out().reshape(bs, sp, h, t, d).permute(0, 3, 1, 2, 4);
        return out.contiguous();
    }

    private static void checkInput(Config c, Tensor x) {
        if (x.rank() != 4 || x.size(CHANNELS) != c.channels()) {
            throw new IllegalArgumentException("expected x [B, T, S, " + c.channels() + "], got " + Arrays.toString(x.shape()));
        }
    }
}
