package dev.corvus.dit;

import dev.corvus.attention.Attention;
import dev.corvus.attention.Mask;
import dev.corvus.comm.Communicator;
import dev.corvus.dit.DitConfig.Schedule;
import dev.corvus.parallel.dsp.DspLayout;
import dev.corvus.parallel.dsp.DspSharding;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.UnaryOperator;

/**
 * A video diffusion transformer (DiT) predicting the rectified-flow velocity of a latent video
 * [B, T, H, W, Cin] at time t, conditioned on a class:
 *
 * <ol>
 *   <li>3-D patch embedding: a linear over every p_t × p_h × p_w × Cin patch, giving tokens
 *       x [B, T', S, C] (T' = T / p_t frames of S = (H / p_h)(W / p_w) patches), plus fixed
 *       sin-cos positions (1-D over frames, 2-D over patch rows and columns).
 *   <li>Conditioning c [B, C] = MLP(sinusoidal(1000 t)) + class embedding; conditioning tokens
 *       [B, L, C] = a projection of given tokens (a text encoder's output) or of the class's
 *       learned tokens.
 *   <li>Blocks with adaLN-Zero: each modulated sub-layer reads LN(x)(1 + scale) + shift and adds
 *       gate · its output, shift/scale/gate from a linear of SiLU(c) whose gate rows start at zero
 *       ({@link Init#ADALN_ZERO}). {@link Schedule#STDIT}: spatial attention (over S within a
 *       frame), temporal attention (over T' at a patch), cross attention to the conditioning
 *       tokens, MLP. {@link Schedule#LATTE}: spatial-only and temporal-only blocks alternating,
 *       each with cross attention and an MLP.
 *   <li>Final layer: adaLN (shift, scale), a linear back to patch values, unpatchify.
 * </ol>
 *
 * The forward is built from registry ops only ({@link Ops}, the {@link Attention} op and the
 * collectives of {@link SequenceParallelOps}), so a tape over them differentiates it; there is no
 * hand-written backward here ({@link DitTraining} records it). It runs on one device
 * ({@link #forward(Weights, Tensor, float[], int[], Tensor)}) or sequence-parallel over a
 * {@link Communicator} ({@link #forward(Communicator, Scheme, Weights, Tensor, float[], int[], Tensor)})
 * with the tokens sharded along S in the DSP layout (padded at the end when P does not divide S).
 *
 * <p><b>Replicated inputs and gradients.</b> Under every {@link Scheme} each rank computes c, the
 * modulations and the conditioning tokens from the full, replicated t, classes and context, and
 * only the patch tokens are sharded. A rank's contribution to the gradient of those replicated
 * tensors (and so of the timestep MLP, class table, class tokens, context projection, modulation
 * linears and the cross-attention key/value projections) comes from its own real tokens only, so
 * the weight-gradient reduction must be exactly one SUM all-reduce of every rank's local
 * gradients: never divide by P (each rank's share is partial, not a copy), never all-reduce a
 * gradient that was already reduced (the conditioning path must not be summed once as "token"
 * weights and again as "replicated" ones), and pad token rows must enter the backward with a zero
 * upstream gradient so they add nothing to the shared sums (DspSharding's gather backward does).
 */
public final class VideoDiT {
    private VideoDiT() {}

    /** Token dims [B, T', S, C]. */
    static final int BATCH = 0, TIME = 1, SPACE = 2;

    /** How the tokens are spread over ranks in the parallel forward. */
    public enum Scheme {
        /**
         * Dynamic Sequence Parallelism (papers.md 3.3): S sharded for temporal attention, cross
         * attention and the MLP; before each spatial attention the normed input switches to a T'
         * shard (the batch for one-frame clips) and the output switches back: 2 all-to-alls per
         * spatial block.
         */
        DSP,
        /** Ulysses on S: spatial attention moves q, k, v to head shards and its output back, 4 all-to-alls per spatial block; heads % P == 0. */
        ULYSSES,
        /** Ring attention on S: the spatial attention's key/value shards travel P-1 hops around the ring, the queries stay. */
        RING
    }

    /** How {@link #initialise} fills the weights. */
    public enum Init {
        /** DiT's adaLN-Zero: the modulations' gate rows and the final projection start at zero, so every block starts as the identity on its gated paths. */
        ADALN_ZERO,
        /** Every weight random (gates too), for tests that must exercise every path. */
        RANDOM
    }

    /** y = x · weightᵀ + bias; weight [out, in], bias [out]. */
    public record Linear(Tensor weight, Tensor bias) {
        Tensor apply(Tensor x) {
            return Ops.linear(x, weight, bias);
        }
    }

    /** Query, key, value and output projections of one multi-head attention. */
    public record AttentionWeights(Linear q, Linear k, Linear v, Linear o) {}

    /**
     * One block. {@code modulation} maps SiLU(c) [B, C] to shift, scale and gate per modulated
     * sub-layer ([3C] each: spatial, temporal, MLP for STDiT; the self attention and the MLP for
     * Latte). {@code spatial} or {@code temporal} is null in a Latte block that does not attend
     * that way.
     */
    public record Block(Linear modulation, AttentionWeights spatial, AttentionWeights temporal, AttentionWeights cross, Linear mlpIn,
            Linear mlpOut) {}

    /**
     * Every weight of the model.
     *
     * @param patchEmbed      [C, p_t·p_h·p_w·Cin]
     * @param timeIn          [C, frequencyDim], the timestep MLP's first linear
     * @param timeOut         [C, C]
     * @param classTable      [classes, C], added to the timestep embedding
     * @param classTokens     [classes, L·contextChannels], the learned conditioning tokens
     * @param contextProject  [C, contextChannels], conditioning tokens to the model width
     * @param blocks          the transformer blocks
     * @param finalModulation [2C, C], shift and scale of the final layer
     * @param finalProject    [p_t·p_h·p_w·Cin, C]
     */
    public record Weights(DitConfig config, Linear patchEmbed, Linear timeIn, Linear timeOut, Tensor classTable, Tensor classTokens,
            Linear contextProject, List<Block> blocks, Linear finalModulation, Linear finalProject) {
        public Weights {
            blocks = List.copyOf(blocks);
        }

        /** Every parameter by a dotted name ("blocks.3.cross.k.weight"), in a fixed order: what an optimiser or a checkpoint walks. */
        public Map<String, Tensor> parameters() {
            Map<String, Tensor> out = new LinkedHashMap<>();
            put(out, "patchEmbed", patchEmbed);
            put(out, "timeIn", timeIn);
            put(out, "timeOut", timeOut);
            out.put("classTable", classTable);
            out.put("classTokens", classTokens);
            put(out, "contextProject", contextProject);
            for (int i = 0; i < blocks.size(); i++) {
                Block b = blocks.get(i);
                String p = "blocks." + i + ".";
                put(out, p + "modulation", b.modulation());
                if (b.spatial() != null) put(out, p + "spatial", b.spatial());
                if (b.temporal() != null) put(out, p + "temporal", b.temporal());
                put(out, p + "cross", b.cross());
                put(out, p + "mlpIn", b.mlpIn());
                put(out, p + "mlpOut", b.mlpOut());
            }
            put(out, "finalModulation", finalModulation);
            put(out, "finalProject", finalProject);
            return out;
        }

        private static void put(Map<String, Tensor> out, String name, Linear l) {
            out.put(name + ".weight", l.weight());
            out.put(name + ".bias", l.bias());
        }

        private static void put(Map<String, Tensor> out, String name, AttentionWeights a) {
            put(out, name + ".q", a.q());
            put(out, name + ".k", a.k());
            put(out, name + ".v", a.v());
            put(out, name + ".o", a.o());
        }
    }

    // ---------------------------------------------------------------- weights

    /**
     * Seeded weights in {@code scope}: linears ~ N(0, 1/fan-in) with biases ~ N(0, 0.02²), class
     * embeddings and tokens ~ N(0, 1); with {@link Init#ADALN_ZERO} the gate rows of every
     * modulation and the whole final projection are zero.
     */
    public static Weights initialise(DitConfig config, long seed, Init init, MemoryScope scope) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int c = config.hidden(), patch = config.patchValues();
        boolean zero = init == Init.ADALN_ZERO;
        Linear patchEmbed = linear(scope, rnd, c, patch);
        Linear timeIn = linear(scope, rnd, c, config.frequencyDim()), timeOut = linear(scope, rnd, c, c);
        Tensor classTable = normal(scope, rnd, 1, config.classes(), c);
        Tensor classTokens = normal(scope, rnd, 1, config.classes(), config.contextTokens() * config.contextChannels());
        Linear contextProject = linear(scope, rnd, c, config.contextChannels());
        List<Block> blocks = new ArrayList<>();
        for (int i = 0; i < config.depth(); i++) {
            boolean spatial = config.schedule() == Schedule.STDIT || i % 2 == 0;
            boolean temporal = config.schedule() == Schedule.STDIT || i % 2 == 1;
            int modulated = (spatial ? 1 : 0) + (temporal ? 1 : 0) + 1;
            Linear modulation = linear(scope, rnd, 3 * modulated * c, c);
            if (zero) {
                for (int s = 0; s < modulated; s++) {
                    zeroRows(modulation.weight(), (3 * s + 2) * c, c);
                    zeroRows(modulation.bias(), (3 * s + 2) * c, c);
                }
            }
            blocks.add(new Block(modulation, spatial ? attention(scope, rnd, c) : null, temporal ? attention(scope, rnd, c) : null,
                    attention(scope, rnd, c), linear(scope, rnd, config.mlpHidden(), c), linear(scope, rnd, c, config.mlpHidden())));
        }
        Linear finalModulation = linear(scope, rnd, 2 * c, c);
        Linear finalProject = linear(scope, rnd, patch, c);
        if (zero) {
            zeroRows(finalProject.weight(), 0, patch);
            zeroRows(finalProject.bias(), 0, patch);
        }
        return new Weights(config, patchEmbed, timeIn, timeOut, classTable, classTokens, contextProject, blocks, finalModulation,
                finalProject);
    }

    private static AttentionWeights attention(MemoryScope scope, SplittableRandom rnd, int c) {
        return new AttentionWeights(linear(scope, rnd, c, c), linear(scope, rnd, c, c), linear(scope, rnd, c, c), linear(scope, rnd, c, c));
    }

    private static Linear linear(MemoryScope scope, SplittableRandom rnd, int out, int in) {
        return new Linear(normal(scope, rnd, 1 / Math.sqrt(in), out, in), normal(scope, rnd, 0.02, out));
    }

    private static Tensor normal(MemoryScope scope, SplittableRandom rnd, double std, int... shape) {
        float[] v = new float[Math.toIntExact(Arrays.stream(shape).asLongStream().reduce(1, (a, b) -> a * b))];
        for (int i = 0; i < v.length; i++) v[i] = (float) (std * rnd.nextGaussian());
        return Tensor.of(scope, v, shape);
    }

    private static void zeroRows(Tensor t, int start, int rows) {
        Ops.copyInto(Tensor.zeros(t.dtype(), t.narrow(0, start, rows).shape()), t.narrow(0, start, rows));
    }

    // ---------------------------------------------------------------- forward

    /**
     * The velocity v(x, t, class) on one device.
     *
     * @param video   x [B, T, H, W, Cin]
     * @param times   t per clip, B of them (rectified flow: 0 noise, 1 data)
     * @param classes class per clip, B of them, in [0, classes)
     * @param context conditioning tokens [B, L, contextChannels], or null for the classes' learned tokens
     * @return the velocity [B, T, H, W, Cin]
     */
    public static Tensor forward(Weights weights, Tensor video, float[] times, int[] classes, Tensor context) {
        return run(weights, video, times, classes, context, new OneDevice());
    }

    /**
     * The same velocity computed by the ranks of {@code comm} under {@code scheme}: each rank
     * embeds and runs only its S shard of the tokens; every rank passes the same (replicated)
     * arguments and gets the full velocity (one all-gather of the final layer's output).
     */
    public static Tensor forward(Communicator comm, Scheme scheme, Weights weights, Tensor video, float[] times, int[] classes,
            Tensor context) {
        if (scheme == Scheme.ULYSSES && weights.config().heads() % comm.size() != 0) {
            throw new IllegalArgumentException("Ulysses needs the " + weights.config().heads() + " heads divisible by the " + comm.size()
                    + " ranks");
        }
        return forward(comm, scheme, weights, video, times, classes, context, 0f);
    }

    /**
     * The parallel forward with the pad slots of the split tokens set to {@code padFill}: tests
     * poison them with NaN to show no pad value reaches a real output (the attended dim is always
     * complete and unpadded). Training needs the zero fill: a pad row's upstream gradient is zero,
     * but zero times a NaN activation is not.
     */
    static Tensor forward(Communicator comm, Scheme scheme, Weights weights, Tensor video, float[] times, int[] classes, Tensor context,
            float padFill) {
        return run(weights, video, times, classes, context, new SequenceParallel(comm, scheme, weights.config().tokenPatches(), padFill));
    }

    private static Tensor run(Weights w, Tensor video, float[] times, int[] classes, Tensor context, Placement place) {
        DitConfig cfg = w.config();
        checkInputs(cfg, video, times, classes, context);
        int batch = video.size(0), c = cfg.hidden();
        Tensor cond = Ops.add(w.timeOut().apply(Ops.silu(w.timeIn().apply(timestepFeatures(times, cfg.frequencyDim())))),
                Ops.embedding(w.classTable(), Tensor.ofInts(classes, batch)));
        Tensor condSilu = Ops.silu(cond);
        Tensor ctx = context != null ? context
                : Ops.embedding(w.classTokens(), Tensor.ofInts(classes, batch)).view(batch, cfg.contextTokens(), cfg.contextChannels());
        ctx = w.contextProject().apply(ctx);
        Tensor x = Ops.add(w.patchEmbed().apply(place.shard(patchify(cfg, video))), place.shard(positions(cfg)));
        for (int i = 0; i < w.blocks().size(); i++) {
            Block b = w.blocks().get(i);
            Tensor mod = b.modulation().apply(condSilu);
            int sub = 0;
            if (b.spatial() != null) x = modulated(cfg, x, mod, sub++, h -> place.spatialAttention(cfg, b.spatial(), h));
            if (b.temporal() != null) x = modulated(cfg, x, mod, sub++, h -> selfAttention(cfg, b.temporal(), h, TIME));
            x = Ops.add(x, crossAttention(cfg, b.cross(), Ops.layernorm(x, null, null, cfg.eps()), ctx));
            x = modulated(cfg, x, mod, sub, h -> b.mlpOut().apply(Ops.gelu(b.mlpIn().apply(h), true)));
        }
        Tensor fin = w.finalModulation().apply(condSilu);
        Tensor out = w.finalProject().apply(modulate(cfg, Ops.layernorm(x, null, null, cfg.eps()), chunk(fin, 0, c), chunk(fin, 1, c)));
        return unpatchify(cfg, place.unshard(out));
    }

    /** x + gate · f(LN(x)(1 + scale) + shift) with shift, scale, gate the sub-layer's three chunks of {@code mod}. */
    private static Tensor modulated(DitConfig cfg, Tensor x, Tensor mod, int sublayer, UnaryOperator<Tensor> f) {
        int c = cfg.hidden();
        Tensor h = modulate(cfg, Ops.layernorm(x, null, null, cfg.eps()), chunk(mod, 3 * sublayer, c), chunk(mod, 3 * sublayer + 1, c));
        return Ops.add(x, Ops.mul(chunk(mod, 3 * sublayer + 2, c), f.apply(h)));
    }

    private static Tensor modulate(DitConfig cfg, Tensor normed, Tensor shift, Tensor scale) {
        return Ops.add(Ops.add(normed, Ops.mul(normed, scale)), shift);
    }

    /** Chunk i of size c of mod [B, k·c], as [B, 1, 1, c] to broadcast over the tokens. */
    private static Tensor chunk(Tensor mod, int i, int c) {
        return mod.narrow(1, i * c, c).reshape(mod.size(0), 1, 1, c);
    }

    /** Multi-head self-attention over {@code over} (TIME or SPACE) of h [B, T', S, C] complete along that dim. */
    static Tensor selfAttention(DitConfig cfg, AttentionWeights w, Tensor h, int over) {
        int[] heads = withHeads(h.shape(), cfg);
        Tensor q = toFlash(w.q().apply(h).view(heads), over);
        Tensor k = toFlash(w.k().apply(h).view(heads), over);
        Tensor v = toFlash(w.v().apply(h).view(heads), over);
        return w.o().apply(fromFlash(attend(cfg, q, k, v), heads, over).view(h.shape()));
    }

    /** Every token of h [B, T', S, C] attends to the conditioning tokens ctx [B, L, C]; token-wise, so any sharding of h runs it locally. */
    private static Tensor crossAttention(DitConfig cfg, AttentionWeights w, Tensor h, Tensor ctx) {
        int[] s = h.shape();
        int batch = s[0], tokens = s[1] * s[2], hd = cfg.headDim(), nh = cfg.heads(), l = ctx.size(1);
        Tensor q = w.q().apply(h).view(batch, tokens, nh, hd).permute(0, 2, 1, 3).contiguous();
        Tensor k = w.k().apply(ctx).view(batch, l, nh, hd).permute(0, 2, 1, 3).contiguous();
        Tensor v = w.v().apply(ctx).view(batch, l, nh, hd).permute(0, 2, 1, 3).contiguous();
        return w.o().apply(attend(cfg, q, k, v).permute(0, 2, 1, 3).reshape(s));
    }

    /** Unmasked attention of q, k, v [B, H, N, hd] through the registry op, so a recording tape differentiates it. */
    private static Tensor attend(DitConfig cfg, Tensor q, Tensor k, Tensor v) {
        return Attention.OP.run(new Attention(Mask.NONE, scale(cfg), 0f), q, k, v);
    }

    /** The dim DSP shards while S is attended: T', or the batch for images (T' = 1), papers.md 3.3. */
    static int spatialSwitchDim(int frames) {
        return frames > 1 ? TIME : BATCH;
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

    static float scale(DitConfig cfg) {
        return (float) (1 / Math.sqrt(cfg.headDim()));
    }

    /** [..., C] as [..., H, hd]. */
    static int[] withHeads(int[] shape, DitConfig cfg) {
        int[] s = Arrays.copyOf(shape, shape.length + 1);
        s[shape.length - 1] = cfg.heads();
        s[shape.length] = cfg.headDim();
        return s;
    }

    // ---------------------------------------------------------------- embeddings

    /** Sinusoidal features of 1000 t (DiT's scale, so t in [0, 1] spans the frequencies): [cos(1000 t f_i), sin(1000 t f_i)], f_i = 10000^(-i/half). */
    static Tensor timestepFeatures(float[] times, int dim) {
        int half = dim / 2;
        float[] f = new float[times.length * dim];
        for (int b = 0; b < times.length; b++) {
            for (int i = 0; i < half; i++) {
                double angle = 1000.0 * times[b] * Math.exp(-Math.log(10000) * i / half);
                f[b * dim + i] = (float) Math.cos(angle);
                f[b * dim + half + i] = (float) Math.sin(angle);
            }
        }
        return Tensor.of(f, times.length, dim);
    }

    /**
     * Fixed positions [1, T', S, C]: the first half of the channels encodes the patch row and the
     * frame, the second the patch column and the frame (sin-cos of each), so every token differs.
     */
    static Tensor positions(DitConfig cfg) {
        int t = cfg.tokenFrames(), s = cfg.tokenPatches(), c = cfg.hidden(), cols = cfg.width() / cfg.patchWidth();
        float[] p = new float[t * s * c];
        for (int f = 0; f < t; f++) {
            for (int j = 0; j < s; j++) {
                for (int ch = 0; ch < c; ch++) {
                    boolean rowHalf = ch < c / 2;
                    int within = rowHalf ? ch : ch - c / 2, width = rowHalf ? c / 2 : c - c / 2;
                    p[(f * s + j) * c + ch] = sinCos(rowHalf ? j / cols : j % cols, within, width) + sinCos(f, within, width);
                }
            }
        }
        return Tensor.of(p, 1, t, s, c);
    }

    private static float sinCos(int position, int channel, int width) {
        double angle = position * Math.exp(-Math.log(10000) * (channel / 2 * 2) / (double) width);
        return (float) (channel % 2 == 0 ? Math.sin(angle) : Math.cos(angle));
    }

    /** video [B, T, H, W, Cin] to patch tokens [B, T', S, p_t·p_h·p_w·Cin], patches row-major over (p_t, p_h, p_w, Cin). */
    static Tensor patchify(DitConfig cfg, Tensor video) {
        int b = video.size(0), pt = cfg.patchFrames(), ph = cfg.patchHeight(), pw = cfg.patchWidth();
        int t = cfg.tokenFrames(), rows = cfg.height() / ph, cols = cfg.width() / pw;
        return video.reshape(b, t, pt, rows, ph, cols, pw, cfg.channels()).permute(0, 1, 3, 5, 2, 4, 6, 7)
                .reshape(b, t, rows * cols, cfg.patchValues());
    }

    /** The inverse of {@link #patchify}. */
    static Tensor unpatchify(DitConfig cfg, Tensor tokens) {
        int b = tokens.size(0), pt = cfg.patchFrames(), ph = cfg.patchHeight(), pw = cfg.patchWidth();
        int t = cfg.tokenFrames(), rows = cfg.height() / ph, cols = cfg.width() / pw;
        return tokens.reshape(b, t, rows, cols, pt, ph, pw, cfg.channels()).permute(0, 1, 4, 2, 5, 3, 6, 7)
                .reshape(b, cfg.frames(), cfg.height(), cfg.width(), cfg.channels());
    }

    private static void checkInputs(DitConfig cfg, Tensor video, float[] times, int[] classes, Tensor context) {
        int[] expected = {video.rank() == 5 ? video.size(0) : -1, cfg.frames(), cfg.height(), cfg.width(), cfg.channels()};
        if (video.rank() != 5 || !Arrays.equals(video.shape(), expected)) {
            throw new IllegalArgumentException("VideoDiT: video has shape " + Arrays.toString(video.shape()) + ", expected [B, "
                    + cfg.frames() + ", " + cfg.height() + ", " + cfg.width() + ", " + cfg.channels() + "] (B, T, H, W, Cin)");
        }
        int batch = video.size(0);
        if (times.length != batch || classes.length != batch) {
            throw new IllegalArgumentException("VideoDiT: " + times.length + " times and " + classes.length + " classes for a batch of "
                    + batch + " clips; expected one of each per clip");
        }
        for (int cl : classes) {
            if (cl < 0 || cl >= cfg.classes()) {
                throw new IllegalArgumentException("VideoDiT: class " + cl + " is outside [0, " + cfg.classes() + ")");
            }
        }
        if (context != null && !Arrays.equals(context.shape(), new int[] {batch, cfg.contextTokens(), cfg.contextChannels()})) {
            throw new IllegalArgumentException("VideoDiT: context has shape " + Arrays.toString(context.shape()) + ", expected [" + batch
                    + ", " + cfg.contextTokens() + ", " + cfg.contextChannels() + "] (B, L, contextChannels)");
        }
    }

    // ---------------------------------------------------------------- placement: one device or S-sharded

    /** Where the tokens live and how spatial attention reaches the whole frame. */
    private interface Placement {
        /** This rank's part of a [*, T', S, *] tensor. */
        Tensor shard(Tensor full);

        /** The full [B, T', S, *] tensor from this rank's part. */
        Tensor unshard(Tensor local);

        /** Spatial self-attention of the local modulated input h; the result in h's layout. */
        Tensor spatialAttention(DitConfig cfg, AttentionWeights w, Tensor h);
    }

    private record OneDevice() implements Placement {
        @Override
        public Tensor shard(Tensor full) {
            return full;
        }

        @Override
        public Tensor unshard(Tensor local) {
            return local;
        }

        @Override
        public Tensor spatialAttention(DitConfig cfg, AttentionWeights w, Tensor h) {
            return selfAttention(cfg, w, h, SPACE);
        }
    }

    /**
     * Tokens sharded along S in the DSP layout (S padded at the end to a multiple of P). Temporal
     * attention, cross attention and the token-wise layers need nothing from other ranks; only
     * spatial attention communicates, as the scheme says.
     */
    private record SequenceParallel(Communicator comm, Scheme scheme, int patches, float padFill) implements Placement {
        private DspLayout layoutOf(int[] globalSizes) {
            return new DspLayout(globalSizes, SPACE, comm.size());
        }

        private int[] global(Tensor local, int patches) {
            int[] s = local.shape();
            s[SPACE] = patches;
            return s;
        }

        @Override
        public Tensor shard(Tensor full) {
            return DspSharding.split(comm, full, layoutOf(full.shape()), padFill);
        }

        @Override
        public Tensor unshard(Tensor local) {
            return SequenceParallelOps.gather(comm, local, layoutOf(global(local, patches)));
        }

        @Override
        public Tensor spatialAttention(DitConfig cfg, AttentionWeights w, Tensor h) {
            int[] global = global(h, patches);
            DspLayout layout = layoutOf(global);
            return switch (scheme) {
                case DSP -> {
                    int other = spatialSwitchDim(global[TIME]);
                    Tensor whole = SequenceParallelOps.dynamicSwitch(comm, h, layout, other);
                    yield SequenceParallelOps.dynamicSwitch(comm, selfAttention(cfg, w, whole, SPACE), layout.switchTo(other), SPACE);
                }
                case ULYSSES -> {
                    // q, k, v [B, T', S/P, H, hd] switch from the S shard to a heads shard (S complete, its pad stripped) and the output back.
                    int[] heads = withHeads(h.shape(), cfg);
                    DspLayout tokens = new DspLayout(withHeads(global, cfg), SPACE, comm.size());
                    int headDim = heads.length - 2;
                    Tensor q = SequenceParallelOps.dynamicSwitch(comm, w.q().apply(h).view(heads), tokens, headDim);
                    Tensor k = SequenceParallelOps.dynamicSwitch(comm, w.k().apply(h).view(heads), tokens, headDim);
                    Tensor v = SequenceParallelOps.dynamicSwitch(comm, w.v().apply(h).view(heads), tokens, headDim);
                    Tensor o = fromFlash(attend(cfg, toFlash(q, SPACE),
                            toFlash(k, SPACE), toFlash(v, SPACE)), q.shape(), SPACE);
                    yield w.o().apply(SequenceParallelOps.dynamicSwitch(comm, o, tokens.switchTo(headDim), SPACE).view(h.shape()));
                }
                case RING -> {
                    int[] heads = withHeads(h.shape(), cfg);
                    Tensor q = toFlash(w.q().apply(h).view(heads), SPACE);
                    Tensor k = toFlash(w.k().apply(h).view(heads), SPACE);
                    Tensor v = toFlash(w.v().apply(h).view(heads), SPACE);
                    Tensor o = SequenceParallelOps.ringAttention(comm, q, k, v, cfg.tokenPatches(), scale(cfg));
                    yield w.o().apply(fromFlash(o, heads, SPACE).view(h.shape()));
                }
            };
        }
    }
}
