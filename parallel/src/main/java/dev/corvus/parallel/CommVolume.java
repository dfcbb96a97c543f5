package dev.corvus.parallel;

/**
 * The analytic communication volume of each sequence-parallel scheme: bytes one rank sends for
 * one attention call, counted as {@link dev.corvus.comm.CommStats} counts them (bytes that leave
 * the rank; an all-to-all keeps 1/P of its input, an all-gather sends its piece P-1 times).
 * Tests check the measured counters against these formulas exactly; papers.md 1.2-1.4, 2.6 and
 * 3.6 give them in the papers' units.
 *
 * <p>Shapes: batch b, query heads h, key/value heads hkv, head dimension d, full sequence n over
 * p ranks (n/p tokens each); F32 (4 bytes) throughout.
 */
public final class CommVolume {
    private CommVolume() {}

    static final long F32 = 4;

    /** One attention problem split over ranks. */
    public record Problem(int b, int h, int hkv, int n, int d, int p) {
        public Problem {
            if (n % p != 0) throw new IllegalArgumentException("n = " + n + " is not a multiple of p = " + p);
        }

        long tokens() {
            return (long) b * (n / p);
        }

        /** Bytes of one rank's query (or output) shard. */
        public long qBytes() {
            return tokens() * h * d * F32;
        }

        /** Bytes of one rank's key (or value) shard. */
        public long kvBytes() {
            return tokens() * hkv * d * F32;
        }

        /** Bytes of one rank's per-row statistics (lse, delta). */
        public long rowBytes() {
            return tokens() * h * F32;
        }
    }

    /** Bytes moved by an all-to-all of a tensor of {@code bytes} bytes over p ranks. */
    static long allToAll(long bytes, int p) {
        return bytes / p * (p - 1);
    }

    /** Ring forward: the key/value shard travels P-1 hops. */
    public static long ringForward(Problem x) {
        return (x.p() - 1) * 2 * x.kvBytes();
    }

    /** Ring backward: P-1 key/value hops, and P hops of their gradients (the last one home). */
    public static long ringBackward(Problem x) {
        long gradientHops = x.p() == 1 ? 0 : x.p();
        return (x.p() - 1) * 2 * x.kvBytes() + gradientHops * 2 * x.kvBytes();
    }

    /** Ulysses forward: q, k, v to head shards; out and lse back. */
    public static long ulyssesForward(Problem x) {
        int p = x.p();
        return allToAll(x.qBytes(), p) * 2 + allToAll(x.kvBytes(), p) * 2 + allToAll(x.rowBytes(), p);
    }

    /** Ulysses backward: q, k, v, dOut, lse, delta to head shards; dq, dk, dv back. */
    public static long ulyssesBackward(Problem x) {
        int p = x.p();
        return allToAll(x.qBytes(), p) * 3 + allToAll(x.kvBytes(), p) * 4 + allToAll(x.rowBytes(), p) * 2;
    }

    // ---------------------------------------------------------------- spatial-temporal (video) transformers

    /**
     * One video activation [b, t, s, c] (F32) over p ranks, for DSP and the ST-block Ulysses
     * baselines. A sharded dim is padded at the end to a multiple of p (papers.md 3.4), so the
     * byte counts use padded sizes: pad(n) = n rounded up to a multiple of p.
     */
    public record VideoProblem(int b, int t, int s, int c, int p) {
        public VideoProblem {
            if (b < 1 || t < 1 || s < 1 || c < 1 || p < 1) {
                throw new IllegalArgumentException("sizes and ranks must be positive: b " + b + ", t " + t + ", s " + s + ", c " + c + ", p " + p);
            }
        }

        /** n rounded up to a multiple of p. */
        public int padded(int n) {
            return (n + p - 1) / p * p;
        }

        /** The dim DSP shards while S is attended: T, or the batch for images (t == 1). */
        boolean imageMode() {
            return t == 1;
        }
    }

    /**
     * Bytes one rank sends in one DSP dynamic switch of an activation with unpadded sizes
     * {@code global}, from a shard along {@code fromDim} to one along {@code toDim}: its input is
     * the local shard with toDim padded, M'/p elements where M' is the element count with both
     * dims padded, and it keeps 1/p: (p-1)/p · M'/p elements.
     */
    public static long dspSwitch(int[] global, int fromDim, int toDim, int p) {
        long m = 1;
        for (int d = 0; d < global.length; d++) m *= d == fromDim || d == toDim ? (global[d] + p - 1) / p * p : global[d];
        return allToAll(m / p * F32, p);
    }

    /**
     * DSP switch S&lt;->T (S&lt;->B in image mode) of [b, t, s, c]:
     * (p-1) · b · (pad(t)/p) · (pad(s)/p) · c · 4 bytes, or (p-1) · (pad(b)/p) · t · (pad(s)/p) · c · 4 with t == 1.
     */
    public static long dspSwitch(VideoProblem x) {
        return dspSwitch(new int[] {x.b(), x.t(), x.s(), x.c()}, 2, x.imageMode() ? 0 : 1, x.p());
    }

    /** DSP per spatial-temporal block pair: switch S->T before spatial attention and T->S after, 2 all-to-alls. */
    public static long dspStPair(VideoProblem x) {
        return 2 * dspSwitch(x);
    }

    /** DSP exit: all-gather of the S shard, (p-1) · b · t · (pad(s)/p) · c · 4 bytes (ALL_GATHER); the entry split sends nothing. */
    public static long dspGather(VideoProblem x) {
        return (long) (x.p() - 1) * x.b() * x.t() * (x.padded(x.s()) / x.p()) * x.c() * F32;
    }

    /**
     * Parameters of one spatial-temporal block with c channels and an MLP of {@code hidden}: two
     * attentions of 4 projections [c, c] with biases and a pre-norm (weight, bias), and an MLP of
     * [hidden, c] and [c, hidden] with biases and a pre-norm.
     */
    public static long stBlockParameters(int c, int hidden) {
        long attention = 4L * c * c + 4L * c + 2L * c;
        return 2 * attention + 2L * hidden * c + hidden + c + 2L * c;
    }

    /**
     * The all-reduce (SUM) of {@code parameters} F32 gradients over p ranks, flattened into one
     * buffer padded to pad(parameters) elements so every rank's chunk is equal: a reduce-scatter and
     * an all-gather of pad(parameters)/p elements each to p-1 peers, 2 · (p-1) · pad(parameters)/p · 4
     * bytes (2(p-1)/p of the padded buffer; ALL_REDUCE).
     */
    public static long dspGradientAllReduce(long parameters, int p) {
        long padded = (parameters + p - 1) / p * p;
        return 2 * (p - 1) * (padded / p) * F32;
    }

    /**
     * The DSP backward proper over {@code blocks} block pairs: each spatial attention's switch pair
     * run backward (2 all-to-alls of {@link #dspSwitch}, scatter and gather swapped, same bytes)
     * plus the one all-reduce of the parameter gradients. The entry split's backward (an
     * all-gather, {@link #dspGather}) is extra when the full input gradient is wanted, and a
     * backward that re-runs the forward for its checkpoints adds blocks · {@link #dspStPair}.
     */
    public static long dspBackward(VideoProblem x, int blocks, long parameters) {
        return blocks * dspStPair(x) + dspGradientAllReduce(parameters, x.p());
    }

    /**
     * Ulysses sharding S per block pair: only spatial attention communicates, q, k, v to head shards
     * and the output back, 4 all-to-alls of b · t · (pad(s)/p) · c · 4 bytes each, keeping 1/p.
     * Needs heads % p == 0.
     */
    public static long ulyssesSpatialStPair(VideoProblem x) {
        return 4 * allToAll((long) x.b() * x.t() * (x.padded(x.s()) / x.p()) * x.c() * F32, x.p());
    }

    /**
     * Ulysses on the flattened sequence t·s per block pair: both attentions communicate, 8
     * all-to-alls of b · (pad(t·s)/p) · c · 4 bytes each, keeping 1/p.
     */
    public static long ulyssesFlattenedStPair(VideoProblem x) {
        return 8 * allToAll((long) x.b() * (x.padded(x.t() * x.s()) / x.p()) * x.c() * F32, x.p());
    }

    /**
     * Ring attention over S per block pair (S sharded, temporal attention local): the spatial
     * attention's key and value shards travel P-1 hops, 2 · (p-1) · b · t · (pad(s)/p) · c · 4
     * bytes (SEND), the same as {@link #ringForward} of the padded S with b · t sequences.
     */
    public static long ringSpatialStPair(VideoProblem x) {
        return 2L * (x.p() - 1) * x.b() * x.t() * (x.padded(x.s()) / x.p()) * x.c() * F32;
    }

    /** Ulysses on the flattened sequence, exit all-gather: (p-1) · b · (pad(t·s)/p) · c · 4 bytes. */
    public static long ulyssesFlattenedGather(VideoProblem x) {
        return (long) (x.p() - 1) * x.b() * (x.padded(x.t() * x.s()) / x.p()) * x.c() * F32;
    }

    /**
     * StarTrail forward with team size c, per rank (index = rank): team all-gathers of q, k, v
     * ((c-1)(q + 2kv)) and of the team's lse ((c-1)·c·row); the placement send of the team's k, v
     * (2c·kv, or 0 for a rank that is its own placement target); (G-1) ring hops of 2c·kv; the
     * combine's reduce-scatter of the team's output ((c-1)·q).
     *
     * <p>A rank is its own placement target when its team t = j·c + a (member a) has a·(G-1) =
     * j·(c-1): every rank for c = 1, the c diagonal ranks a·c + a for G = 1, and for 1 &lt; c &lt; √P
     * the ranks with (a, j) a multiple of ((c-1), (G-1)) / gcd, e.g. rank 0 always. With
     * placement counted, the point-to-point bytes of a non-diagonal rank are G·2c·kv = 2kv·P/c:
     * exactly 1/c of the ring's 2kv·P counted over P hops (papers.md 2.6); the ring itself sends
     * P-1 hops, so C = 1 equals {@link #ringForward}.
     */
    public static long[] starTrailForward(Problem x, int c) {
        StarTrailTopology topo = new StarTrailTopology(x.p(), c);
        long[] bytes = new long[x.p()];
        long team = c * x.kvBytes() * 2;
        for (int r = 0; r < x.p(); r++) {
            long gathers = (c - 1) * (x.qBytes() + 2 * x.kvBytes()) + (long) (c - 1) * c * x.rowBytes();
            long placement = topo.placementTarget(r) == r ? 0 : team;
            long ring = (topo.ringLength() - 1) * team;
            long combine = (c - 1) * x.qBytes();
            bytes[r] = gathers + placement + ring + combine;
        }
        return bytes;
    }

    /**
     * StarTrail backward with team size c, per rank: team all-gathers of k, v (re-placed), q, dOut
     * and (lse, delta) ((c-1)(2q + 2kv + 2row)); the placement send and the return of the key/value
     * gradients along the inverse placement (2c·kv each, 0 for a rank that is its own placement
     * target); (G-1) hops of the query packet's q, dOut, lse, delta (c(2q + 2row)) and, when G > 1,
     * G hops of its dq accumulator (c·q; the last one home); reduce-scatters of dq, dk, dv
     * ((c-1)(q + 2kv)).
     */
    public static long[] starTrailBackward(Problem x, int c) {
        StarTrailTopology topo = new StarTrailTopology(x.p(), c);
        int g = topo.ringLength();
        long[] bytes = new long[x.p()];
        for (int r = 0; r < x.p(); r++) {
            long gathers = (c - 1) * (2 * x.qBytes() + 2 * x.kvBytes() + 2 * x.rowBytes());
            long placement = topo.placementTarget(r) == r ? 0 : 2 * (c * x.kvBytes() * 2);
            long packets = (g - 1) * c * (2 * x.qBytes() + 2 * x.rowBytes()) + (g > 1 ? (long) g * c * x.qBytes() : 0);
            long scatters = (c - 1) * (x.qBytes() + 2 * x.kvBytes());
            bytes[r] = gathers + placement + packets + scatters;
        }
        return bytes;
    }
}
