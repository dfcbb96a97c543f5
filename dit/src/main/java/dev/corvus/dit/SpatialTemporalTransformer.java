package dev.corvus.dit;

import dev.corvus.parallel.dsp.DspSharding;
import dev.corvus.parallel.dsp.DspLayout;
import dev.corvus.parallel.CommVolume;
import dev.corvus.attention.FlashAttention;
import dev.corvus.attention.Mask;
import dev.corvus.dit.LayerBackward.Grads;
import dev.corvus.comm.Communicator;
import dev.corvus.tensor.DType;
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
 * and backward two ways: {@link #backward} on one device (the reference) and {@link #backwardDsp}
 * (the DSP forward's switches in reverse, parameter gradients all-reduced over the SP group).
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

        /** Every parameter tensor, block by block, in {@link #parameters(List)} order. */
        public List<Tensor> parameters() {
            return SpatialTemporalTransformer.parameters(blocks);
        }
    }

    /**
     * Parameter gradients laid out like {@link Weights#blocks()}: each tensor of a {@link Block}
     * here is the gradient of the weight in the same place there.
     */
    public record Gradients(List<Block> blocks) {
        public Gradients {
            blocks = List.copyOf(blocks);
        }

        /** Every gradient, in the order of {@link Weights#parameters()}. */
        public List<Tensor> tensors() {
            return parameters(blocks);
        }
    }

    /** A backward pass's result: the gradient of the input (or of this rank's input shard) and of every parameter. */
    public record Backward(Tensor dx, Gradients gradients) {}

    /** Tensors per block: two attentions of 10 (norm weight and bias, 4 projections with biases) and an MLP of 6. */
    static final int TENSORS_PER_BLOCK = 26;

    /**
     * The tensors of {@code blocks} in a fixed order: per block the spatial attention (normWeight,
     * normBias, wq, bq, wk, bk, wv, bv, wo, bo), the temporal one likewise, then the MLP
     * (normWeight, normBias, w1, b1, w2, b2).
     */
    public static List<Tensor> parameters(List<Block> blocks) {
        List<Tensor> out = new ArrayList<>(blocks.size() * TENSORS_PER_BLOCK);
        for (Block b : blocks) {
            for (Attention a : List.of(b.spatial(), b.temporal())) {
                out.addAll(List.of(a.normWeight(), a.normBias(), a.wq(), a.bq(), a.wk(), a.bk(), a.wv(), a.bv(), a.wo(), a.bo()));
            }
            Mlp m = b.mlp();
            out.addAll(List.of(m.normWeight(), m.normBias(), m.w1(), m.b1(), m.w2(), m.b2()));
        }
        return out;
    }

    /** The inverse of {@link #parameters(List)}: blocks from their tensors in that order. */
    public static List<Block> blocksOf(List<Tensor> tensors) {
        if (tensors.size() % TENSORS_PER_BLOCK != 0) {
            throw new IllegalArgumentException(tensors.size() + " tensors are not a whole number of blocks of " + TENSORS_PER_BLOCK);
        }
        List<Block> blocks = new ArrayList<>();
        for (int i = 0; i < tensors.size(); i += TENSORS_PER_BLOCK) {
            List<Tensor> t = tensors.subList(i, i + TENSORS_PER_BLOCK);
            blocks.add(new Block(attentionOf(t.subList(0, 10)), attentionOf(t.subList(10, 20)),
                    new Mlp(t.get(20), t.get(21), t.get(22), t.get(23), t.get(24), t.get(25))));
        }
        return blocks;
    }

    private static Attention attentionOf(List<Tensor> t) {
        return new Attention(t.get(0), t.get(1), t.get(2), t.get(3), t.get(4), t.get(5), t.get(6), t.get(7), t.get(8), t.get(9));
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
            x = temporalAndMlp(c, b, Ops.add(x, attentionLocal(c, b.spatial(), norm(c, b.spatial(), x), SPACE)));
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
            x = temporalAndMlp(c, b, Ops.add(x, DspSharding.dynamicSwitch(comm, a, switched, SPACE)));
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

    static int[] withHeads(int[] shape, Config c) {
        int[] s = Arrays.copyOf(shape, shape.length + 1);
        s[shape.length - 1] = c.heads();
        s[shape.length] = c.headDim();
        return s;
    }

    // ---------------------------------------------------------------- backward

    /**
     * The reference backward on one device: the gradients of L with respect to x [B, T, S, C] and
     * every parameter, given dY = dL/dY for Y = {@link #forward}(weights, x). Results live in the
     * current scope (else x's).
     *
     * <p>Activation checkpointing: a forward pass keeps, per block, only its input, the spatial
     * attention's (normed) input and the input of the temporal sub-layer; each block's backward
     * recomputes the rest of its forward in a scope of its own, freed before the next block.
     */
    public static Backward backward(Weights weights, Tensor x, Tensor dY) {
        checkInput(weights.config(), x);
        if (!Arrays.equals(dY.shape(), x.shape())) {
            throw new IllegalArgumentException("backward: dY has shape " + Arrays.toString(dY.shape()) + ", expected x's "
                    + Arrays.toString(x.shape()));
        }
        GradientBuffer g = gradientBuffer(weights, LayerBackward.scopeOf(x), 1);
        return new Backward(backward(weights, x, dY, LOCAL, g.gradients()), g.gradients());
    }

    /**
     * DSP backward from the full x and dY (replicated on every rank): the entry split's and exit
     * gather's backward around {@link #backwardDsp(Communicator, Weights, Tensor, Tensor, DspLayout)}.
     * Every rank gets the full input gradient (one all-gather) and the summed parameter gradients.
     */
    public static Backward backwardDsp(Communicator comm, Weights weights, Tensor x, Tensor dY) {
        DspLayout layout = new DspLayout(x.shape(), SPACE, comm.size());
        Backward local = backwardDsp(comm, weights, DspSharding.split(comm, x, layout, 0f), DspSharding.gatherBackward(comm, dY, layout),
                layout);
        return new Backward(DspSharding.splitBackward(comm, local.dx(), layout), local.gradients());
    }

    /**
     * The DSP backward on this rank's S shard: {@code localX} is the input shard of
     * {@link #forwardDsp(Communicator, Weights, Tensor, DspLayout)} and {@code dYLocal} the
     * gradient of its output shard (what {@link DspSharding#gatherBackward} makes of the full dY).
     * Returns the gradient of {@code localX} (pad slots exactly zero) and the parameter gradients,
     * summed over the SP group with one all-reduce (papers.md 3.4), identical on every rank.
     *
     * <p>It re-runs the forward with the same switches, checkpointing each block at its
     * communication boundaries (block input, switched spatial-attention input, temporal-sub-layer
     * input), so the per-block recompute in the backward never communicates. The backward mirrors
     * the forward in reverse: each spatial attention's switch pair gets
     * {@link DspSharding#switchBackward} in reverse order, attention backward runs locally on the
     * complete attended dim and the token-wise layers on local tokens. Pad slots of both inputs are
     * ignored (cleared to zero first), so NaN there never leaks. Every rank sends
     * {@code blocks} × {@link dev.corvus.parallel.CommVolume#dspStPair} for the forward
     * and {@link dev.corvus.parallel.CommVolume#dspBackward} for the backward.
     */
    public static Backward backwardDsp(Communicator comm, Weights weights, Tensor localX, Tensor dYLocal, DspLayout layout) {
        if (layout.shardDim() != SPACE || layout.globalSizes().length != 4) {
            throw new IllegalArgumentException("backwardDsp expects [B, T, S, C] sharded along S (dim 2), got " + layout);
        }
        if (layout.ranks() != comm.size()) throw new IllegalArgumentException("backwardDsp: " + layout + " does not match a group of " + comm.size());
        for (Tensor t : List.of(localX, dYLocal)) {
            if (!Arrays.equals(t.shape(), layout.localShape())) {
                throw new IllegalArgumentException("backwardDsp: shard of shape " + Arrays.toString(t.shape()) + ", expected "
                        + Arrays.toString(layout.localShape()) + " for " + layout);
            }
        }
        GradientBuffer g = gradientBuffer(weights, LayerBackward.scopeOf(localX), comm.size());
        Tensor dx = backward(weights, localX, dYLocal, new DspSwitches(comm, layout), g.gradients());
        comm.allReduce(g.flat());
        return new Backward(dx, g.gradients());
    }

    /**
     * What the spatial sub-layer does around its attention, and the backward of it: nothing on one
     * device; under DSP the switch away from the S shard before (S→T, or S→B for images) and back
     * after. {@link #clearPad} copies a local activation with its pad slots zeroed.
     */
    private interface SpatialSwitches {
        Tensor in(Tensor h);

        Tensor out(Tensor a);

        Tensor inBackward(Tensor dIn);

        Tensor outBackward(Tensor dOut);

        Tensor clearPad(Tensor local);
    }

    private static final SpatialSwitches LOCAL = new SpatialSwitches() {
        @Override
        public Tensor in(Tensor h) {
            return h;
        }

        @Override
        public Tensor out(Tensor a) {
            return a;
        }

        @Override
        public Tensor inBackward(Tensor dIn) {
            return dIn;
        }

        @Override
        public Tensor outBackward(Tensor dOut) {
            return dOut;
        }

        @Override
        public Tensor clearPad(Tensor local) {
            return Ops.copy(local);
        }
    };

    /** The STDiT3 switch pair of {@link #forwardDsp} on the S-sharded {@code layout}. */
    private record DspSwitches(Communicator comm, DspLayout layout, int other) implements SpatialSwitches {
        DspSwitches(Communicator comm, DspLayout layout) {
            this(comm, layout, spatialSwitchDim(layout.globalSize(TIME)));
        }

        @Override
        public Tensor in(Tensor h) {
            return DspSharding.dynamicSwitch(comm, h, layout, other);
        }

        @Override
        public Tensor out(Tensor a) {
            return DspSharding.dynamicSwitch(comm, a, layout.switchTo(other), SPACE);
        }

        @Override
        public Tensor inBackward(Tensor dIn) {
            return DspSharding.switchBackward(comm, dIn, layout, other);
        }

        @Override
        public Tensor outBackward(Tensor dOut) {
            return DspSharding.switchBackward(comm, dOut, layout.switchTo(other), SPACE);
        }

        @Override
        public Tensor clearPad(Tensor local) {
            int valid = layout.validOn(comm.rank());
            Tensor out = Tensor.zeros(DType.F32, layout.localShape());
            if (valid > 0) Ops.copyInto(local.narrow(SPACE, 0, valid), out.narrow(SPACE, 0, valid));
            return out;
        }
    }

    /** A block's checkpoint: its input x, the spatial attention's input hS as attention sees it (switched under DSP), and x1 = x + spatial(x). */
    private record Checkpoint(Tensor x, Tensor hS, Tensor x1) {}

    /** Zeroed parameter gradients as views of one flat F32 buffer, its length rounded up to a multiple of {@code multiple} (one all-reduce, even chunks). */
    private record GradientBuffer(Tensor flat, Gradients gradients) {}

    private static GradientBuffer gradientBuffer(Weights weights, MemoryScope scope, int multiple) {
        List<Tensor> params = weights.parameters();
        long n = params.stream().mapToLong(Tensor::numel).sum();
        Tensor flat = Tensor.zeros(scope, DType.F32, Math.toIntExact((n + multiple - 1) / multiple * multiple));
        List<Tensor> views = new ArrayList<>(params.size());
        int offset = 0;
        for (Tensor p : params) {
            int size = Math.toIntExact(p.numel());
            views.add(flat.narrow(0, offset, size).view(p.shape()));
            offset += size;
        }
        return new GradientBuffer(flat, new Gradients(blocksOf(views)));
    }

    /** The shared backward: checkpointed forward, then the blocks in reverse; writes parameter gradients into {@code into}, returns dx in the caller's scope. */
    private static Tensor backward(Weights weights, Tensor x, Tensor dY, SpatialSwitches sw, Gradients into) {
        MemoryScope home = LayerBackward.scopeOf(x);
        Config c = weights.config();
        List<Block> blocks = weights.blocks();
        try (MemoryScope saved = MemoryScope.open("backward-checkpoints")) {
            List<Checkpoint> checkpoints = new ArrayList<>(blocks.size());
            Tensor xi = sw.clearPad(x);
            for (int i = 0; i < blocks.size(); i++) {
                Block b = blocks.get(i);
                try (MemoryScope step = MemoryScope.open("block-forward")) {
                    Tensor hS = sw.in(norm(c, b.spatial(), xi));
                    Tensor x1 = Ops.add(xi, sw.out(attentionLocal(c, b.spatial(), hS, SPACE)));
                    checkpoints.add(new Checkpoint(xi, keep(saved, hS), keep(saved, x1)));
                    if (i + 1 < blocks.size()) xi = keep(saved, temporalAndMlp(c, b, x1));
                }
            }
            Tensor grad = sw.clearPad(dY); // dL/d(output of block i), overwritten block by block
            for (int i = blocks.size() - 1; i >= 0; i--) {
                try (MemoryScope step = MemoryScope.open("block-backward")) {
                    Ops.copyInto(blockBackward(c, blocks.get(i), checkpoints.get(i), grad, sw, into.blocks().get(i)), grad);
                }
            }
            return keep(home, grad);
        }
    }

    /**
     * One block's backward from its checkpoint and dy = dL/d(block output): recomputes the
     * temporal and MLP sub-layers from x1 and the spatial attention from hS, writes the block's
     * parameter gradients into {@code into} and returns dL/dx.
     */
    private static Tensor blockBackward(Config c, Block b, Checkpoint cp, Tensor dy, SpatialSwitches sw, Block into) {
        // Recompute: x2 = x1 + temporal(LN(x1)); y = x2 + W2·gelu(W1·LN(x2)).
        AttentionTape temporal = attentionTape(c, b.temporal(), norm(c, b.temporal(), cp.x1()), TIME);
        Tensor x2 = Ops.add(cp.x1(), Ops.linear(temporal.o(), b.temporal().wo(), b.temporal().bo()));
        Mlp m = b.mlp();
        Tensor hM = Ops.layernorm(x2, m.normWeight(), m.normBias(), c.eps());
        Tensor u = Ops.linear(hM, m.w1(), m.b1());
        // MLP.
        Grads l2 = LayerBackward.linear(Ops.gelu(u, true), m.w2(), dy);
        Grads l1 = LayerBackward.linear(hM, m.w1(), LayerBackward.geluTanh(u, l2.dx()));
        Grads nM = LayerBackward.layernorm(x2, m.normWeight(), c.eps(), l1.dx());
        store(into.mlp().normWeight(), into.mlp().normBias(), nM);
        store(into.mlp().w1(), into.mlp().b1(), l1);
        store(into.mlp().w2(), into.mlp().b2(), l2);
        Tensor dx2 = Ops.add(dy, nM.dx());
        // Temporal attention, local on every layout (T is complete while S is sharded).
        Grads nT = LayerBackward.layernorm(cp.x1(), b.temporal().normWeight(), c.eps(), attentionBackward(c, b.temporal(), temporal, dx2, into.temporal()));
        store(into.temporal().normWeight(), into.temporal().normBias(), nT);
        Tensor dx1 = Ops.add(dx2, nT.dx());
        // Spatial attention: undo the switch back, attention backward over the complete S, undo the switch there.
        AttentionTape spatial = attentionTape(c, b.spatial(), cp.hS(), SPACE);
        Tensor dhS = attentionBackward(c, b.spatial(), spatial, sw.outBackward(dx1), into.spatial());
        Grads nS = LayerBackward.layernorm(cp.x(), b.spatial().normWeight(), c.eps(), sw.inBackward(dhS));
        store(into.spatial().normWeight(), into.spatial().normBias(), nS);
        return Ops.add(dx1, nS.dx());
    }

    /**
     * Backward of one attention (projections and flash attention, not its pre-norm) from its tape
     * and da = dL/d(attention output): writes the projection gradients into {@code into} and
     * returns dL/dh for the normed input h.
     */
    private static Tensor attentionBackward(Config c, Attention w, AttentionTape tape, Tensor da, Attention into) {
        Grads o = LayerBackward.linear(tape.o(), w.wo(), da);
        store(into.wo(), into.bo(), o);
        int[] heads = withHeads(tape.h().shape(), c);
        FlashAttention.Gradients g = FlashAttention.backward(tape.q(), tape.k(), tape.v(), tape.out(), tape.lse(),
                toFlash(o.dx().view(heads), tape.over()), Mask.NONE, c.scale());
        Grads q = LayerBackward.linear(tape.h(), w.wq(), fromFlash(g.dq(), heads, tape.over()).view(tape.h().shape()));
        Grads k = LayerBackward.linear(tape.h(), w.wk(), fromFlash(g.dk(), heads, tape.over()).view(tape.h().shape()));
        Grads v = LayerBackward.linear(tape.h(), w.wv(), fromFlash(g.dv(), heads, tape.over()).view(tape.h().shape()));
        store(into.wq(), into.bq(), q);
        store(into.wk(), into.bk(), k);
        store(into.wv(), into.bv(), v);
        return Ops.add(Ops.add(q.dx(), k.dx()), v.dx());
    }

    private static void store(Tensor weightGrad, Tensor biasGrad, Grads g) {
        Ops.copyInto(g.dWeight(), weightGrad);
        Ops.copyInto(g.dBias(), biasGrad);
    }

    /** A contiguous copy of t allocated in {@code scope}. */
    private static Tensor keep(MemoryScope scope, Tensor t) {
        Tensor out = Tensor.zeros(scope, DType.F32, t.shape());
        Ops.copyInto(t, out);
        return out;
    }

    // ---------------------------------------------------------------- shared pieces

    /** The second and third sub-layers of a block: x2 = x1 + TemporalAttn(LN(x1)); x2 + MLP(LN(x2)). */
    private static Tensor temporalAndMlp(Config c, Block b, Tensor x1) {
        Tensor x2 = Ops.add(x1, attentionLocal(c, b.temporal(), norm(c, b.temporal(), x1), TIME));
        return Ops.add(x2, mlp(c, b.mlp(), x2));
    }

    private static Tensor norm(Config c, Attention w, Tensor x) {
        return Ops.layernorm(x, w.normWeight(), w.normBias(), c.eps());
    }

    private static Tensor mlp(Config c, Mlp w, Tensor x) {
        Tensor h = Ops.layernorm(x, w.normWeight(), w.normBias(), c.eps());
        return Ops.linear(Ops.gelu(Ops.linear(h, w.w1(), w.b1()), true), w.w2(), w.b2());
    }

    /** Multi-head self-attention over {@code over} (TIME or SPACE) of a normed h [B, T, S, C] held whole along that dim. */
    private static Tensor attentionLocal(Config c, Attention w, Tensor h, int over) {
        return Ops.linear(attentionTape(c, w, h, over).o(), w.wo(), w.bo());
    }

    /**
     * What an attention's backward needs of its forward: the normed input h [B, T, S, C]; q, k, v,
     * out and lse in flash layout ({@link #toFlash}); and the merged heads o [B, T, S, C] that the
     * output projection reads.
     */
    private record AttentionTape(Tensor h, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor o, int over) {}

    /** The attention forward up to (not including) the output projection, keeping what the backward reads. */
    private static AttentionTape attentionTape(Config c, Attention w, Tensor h, int over) {
        int[] heads = withHeads(h.shape(), c);
        Tensor q = toFlash(Ops.linear(h, w.wq(), w.bq()).view(heads), over);
        Tensor k = toFlash(Ops.linear(h, w.wk(), w.bk()).view(heads), over);
        Tensor v = toFlash(Ops.linear(h, w.wv(), w.bv()).view(heads), over);
        FlashAttention.Result r = FlashAttention.forward(q, k, v, Mask.NONE, c.scale());
        return new AttentionTape(h, q, k, v, r.out(), r.lse(), fromFlash(r.out(), heads, over).view(h.shape()), over);
    }

    /**
     * Attention over dim {@code over} of q, k, v [B, T, S, H, hd], the other of T and S acting as
     * batch: laid out as [B·T, H, S, hd] (spatial) or [B·S, H, T, hd] (temporal) for flash
     * attention. Returns [B, T, S, H, hd], contiguous.
     */
    static Tensor attend(Tensor q, Tensor k, Tensor v, int over, float scale) {
        FlashAttention.Result r = FlashAttention.forward(toFlash(q, over), toFlash(k, over), toFlash(v, over), Mask.NONE, scale);
        return fromFlash(r.out(), q.shape(), over);
    }

    /** t [B, T, S, H, hd] as flash attention's [B·T, H, S, hd] (over S) or [B·S, H, T, hd] (over T), contiguous. */
    static Tensor toFlash(Tensor t, int over) {
        int[] s = t.shape();
        return switch (over) {
            case SPACE -> t.permute(0, 1, 3, 2, 4).reshape(s[0] * s[1], s[3], s[2], s[4]);
            case TIME -> t.permute(0, 2, 3, 1, 4).reshape(s[0] * s[2], s[3], s[1], s[4]);
            default -> throw new IllegalArgumentException("attention runs over T (1) or S (2), not dim " + over);
        };
    }

    /** The inverse of {@link #toFlash}: f in flash layout back to {@code shape} [B, T, S, H, hd], contiguous. */
    static Tensor fromFlash(Tensor f, int[] shape, int over) {
        int bs = shape[0], t = shape[1], sp = shape[2], h = shape[3], d = shape[4];
        Tensor out = over == SPACE ? f.reshape(bs, t, h, sp, d).permute(0, 1, 3, 2, 4) : f.reshape(bs, sp, h, t, d).permute(0, 3, 1, 2, 4);
        return out.contiguous();
    }

    private static void checkInput(Config c, Tensor x) {
        if (x.rank() != 4 || x.size(CHANNELS) != c.channels()) {
            throw new IllegalArgumentException("expected x [B, T, S, " + c.channels() + "], got " + Arrays.toString(x.shape()));
        }
    }
}
