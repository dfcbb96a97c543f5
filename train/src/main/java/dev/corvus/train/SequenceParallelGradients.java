package dev.corvus.train;

import dev.corvus.comm.Communicator;
import dev.corvus.model.LlamaConfig;
import dev.corvus.model.LlamaModel;
import dev.corvus.parallel.SequenceLayout;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.op.Tape;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * {@link DecoderGradients} with the sequence split across the ranks of a {@link Communicator}
 * (sequence parallelism, issue 17): every rank is given the same packed sequence of T + 1 tokens
 * and computes its shard of the T positions, the scheme's layout ({@link SequenceParallelScheme#layout}:
 * zigzag for ring and StarTrail, contiguous for Ulysses). Token-local ops (embedding, norms,
 * projections, MLP, the chunked cross-entropy) run on the shard's rows unchanged, RoPE at each
 * row's global position; every layer's attention is a {@link SequenceParallelAttention} over the
 * whole sequence, recorded on the tape with the scheme's backward. A sequence whose T is not a
 * multiple of the layout's chunks ({@link SequenceParallelScheme#chunkMultiple}) is padded at its
 * end with ignored positions: causal attention never lets a real position see them, their loss
 * and hence their gradients are zero, so the result is exact.
 *
 * <p>{@link #accumulate} adds this rank's share of the gradients; {@link #combine} (called by the
 * {@link Trainer} once per step, after the micro-batches) sums the gradients over the group with
 * an all-reduce per bucket of gradients ({@link GradientBuckets}, 25 MiB by default; or one per
 * parameter) and the loss and token count with one all-gather, so every rank divides by the
 * global token count, clips by the same global norm and takes the same AdamW step (the
 * all-reduce leaves the same bits on every rank).
 *
 * <p>With {@code checkpointBlocks} every decoder block is an activation-checkpointing segment, as
 * in {@link DecoderGradients}: only each block's input is held to the backward, which runs the
 * block again. Each layer's {@link SequenceParallelAttention} keeps its output and log-sum-exp
 * across the recomputation ({@link SequenceParallelAttention.Saved#keepingOutput}), so the second
 * run repeats no communication: the bytes per step are the same with and without checkpointing,
 * and so are the gradients (bit for bit on the scalar backend, to rounding on the vector one:
 * SequenceParallelCheckpointTest).
 *
 * <p>Use, on every rank (in-JVM ranks: {@code InJvmCluster.run}; MPI: {@code Communicators.fromEnvironment}):
 * <pre>{@code
 * var loss = new SequenceParallelGradients(comm, SequenceParallelScheme.STARTRAIL, 2, 32);
 * // the same data (same seed) on every rank; checkpoints from rank 0 only (checkpointEvery 0 elsewhere)
 * try (Trainer<int[]> t = new Trainer<>(parameters, data, loss, p -> loss.loss(validationSequence, p), options)) { t.runUntil(steps); }
 * }</pre>
 * Bytes per rank per step: {@link #expectedBytes} (what {@link Communicator#stats()} counts).
 */
public final class SequenceParallelGradients implements Trainer.LossFunction<int[]> {
    private final Communicator comm;
    private final SequenceParallelScheme scheme;
    private final int teamSize;
    private final int chunkRows;
    private final boolean checkpointBlocks;
    private final long bucketElements;

    /**
     * @param comm      the group the sequence is split over (one instance per rank)
     * @param scheme    how attention crosses ranks
     * @param teamSize  StarTrail's team size C (C | P and C² | P); 1 for ring and Ulysses
     * @param chunkRows rows of the cross-entropy per chunk
     */
    public SequenceParallelGradients(Communicator comm, SequenceParallelScheme scheme, int teamSize, int chunkRows) {
        this(comm, scheme, teamSize, chunkRows, false, GradientBuckets.DEFAULT_BUCKET_ELEMENTS);
    }

    /**
     * @param checkpointBlocks recompute each decoder block in backward instead of holding its activations
     * @param bucketElements   F32 elements per gradient all-reduce ({@link GradientBuckets}), or
     *                         {@link GradientBuckets#PER_PARAMETER} for one all-reduce per parameter
     */
    public SequenceParallelGradients(Communicator comm, SequenceParallelScheme scheme, int teamSize, int chunkRows, boolean checkpointBlocks,
            long bucketElements) {
        GradientBuckets.check(bucketElements);
        this.checkpointBlocks = checkpointBlocks;
        this.bucketElements = bucketElements;
        this.comm = Objects.requireNonNull(comm, "comm");
        this.scheme = Objects.requireNonNull(scheme, "scheme");
        if (chunkRows <= 0) throw new IllegalArgumentException("SequenceParallelGradients: chunk rows " + chunkRows + " must be positive");
        scheme.checkTeamSize(comm.size(), teamSize); // the heads are checked against the model's at the first step
        this.teamSize = teamSize;
        this.chunkRows = chunkRows;
    }

    public SequenceParallelScheme scheme() {
        return scheme;
    }

    public int teamSize() {
        return teamSize;
    }

    public Communicator communicator() {
        return comm;
    }

    /** Whether each decoder block is recomputed in backward. */
    public boolean checkpointBlocks() {
        return checkpointBlocks;
    }

    /** F32 elements per gradient all-reduce; {@link GradientBuckets#PER_PARAMETER} for one per parameter. */
    public long bucketElements() {
        return bucketElements;
    }

    /** Positions a sequence of {@code positions} is padded to: the next multiple of the layout's chunks. */
    public int paddedLength(int positions) {
        int m = scheme.chunkMultiple(comm.size());
        return Math.ceilDiv(positions, m) * m;
    }

    /** This rank's rows of a padded sequence: tokens, targets (ignored on padding) and where they sit. */
    private record Shard(int[] tokens, int[] targets, List<LlamaModel.PositionRun> runs, int total) {}

    private Shard shard(int[] sequence, LlamaConfig config) {
        if (sequence.length < 2) throw new IllegalArgumentException("SequenceParallelGradients: a sequence needs at least 2 tokens, got " + sequence.length);
        scheme.check(comm.size(), teamSize, config.heads(), config.kvHeads());
        int positions = sequence.length - 1, total = paddedLength(positions);
        SequenceLayout layout = scheme.layout(total, comm.rank(), comm.size());
        int n = layout.localLength();
        int[] tokens = new int[n], targets = new int[n];
        List<LlamaModel.PositionRun> runs = new ArrayList<>();
        for (SequenceLayout.Chunk c : layout.chunks()) {
            runs.add(new LlamaModel.PositionRun(c.localStart(), c.globalStart(), c.length()));
            for (int i = 0; i < c.length(); i++) {
                int at = c.globalStart() + i;
                tokens[c.localStart() + i] = at < positions ? sequence[at] : 0; // padding: any valid id, its row is never scored nor seen
                targets[c.localStart() + i] = at < positions ? sequence[at + 1] : CrossEntropy.IGNORE;
            }
        }
        return new Shard(tokens, targets, runs, total);
    }

    /**
     * The sharded forward; with {@code keep} (checkpointing) each layer's attention keeps its
     * output and log-sum-exp there, and its recomputation in backward answers from them.
     */
    private Tensor forward(LlamaModel model, Shard s, MemoryScope keep) {
        SequenceParallelAttention.Saved[] saved = new SequenceParallelAttention.Saved[model.config().layers()];
        return model.trainingForward(s.tokens(), s.runs(), (layer, q, k, v, scale, window, softcap) -> {
            if (saved[layer] == null) saved[layer] = keep != null ? SequenceParallelAttention.Saved.keepingOutput(keep) : new SequenceParallelAttention.Saved();
            return SequenceParallelAttention.OP.run(new SequenceParallelAttention(comm, scheme, teamSize, scale, window, softcap, saved[layer]), q, k, v);
        }, keep != null);
    }

    /** Adds this rank's share of the summed loss's gradients (the group's sum comes in {@link #combine}); returns this rank's share of the loss. */
    @Override
    public CrossEntropy.Loss accumulate(int[] sequence, Parameters parameters) {
        LlamaModel model = new LlamaModel(parameters.config(), parameters.weights());
        Shard s = shard(sequence, parameters.config());
        List<Parameter> wanted = parameters.list();
        Tensor[] values = new Tensor[wanted.size()];
        for (int i = 0; i < values.length; i++) values[i] = wanted.get(i).value();
        try (MemoryScope scope = MemoryScope.open("sequence-parallel gradients"); Tape tape = Tape.record()) {
            Tensor h = forward(model, s, checkpointBlocks ? scope : null);
            Tensor dH = Tensor.zeros(scope, DType.F32, h.shape());
            CrossEntropy.Loss loss = tape.unrecorded(() -> CrossEntropy.ofModel(h, parameters, s.targets(), chunkRows, dH, true));
            Tensor[] grads = tape.backward(h, dH, values);
            for (int i = 0; i < grads.length; i++) {
                Tensor g = wanted.get(i).grad();
                Ops.copyInto(Ops.add(g, grads[i]), g);
            }
            return loss;
        }
    }

    /**
     * Sums every parameter's gradient over the group (all-reduce in buckets, in place) and
     * returns the group's loss: {@code local}'s sum and token count added over the ranks.
     */
    @Override
    public CrossEntropy.Loss combine(CrossEntropy.Loss local, Parameters parameters) {
        GradientBuckets.allReduce(comm, parameters.list(), bucketElements);
        return sum(local);
    }

    /** The group's summed loss of {@code sequence} (no gradients), by the same sharded forward; a collective. */
    public CrossEntropy.Loss loss(int[] sequence, Parameters parameters) {
        LlamaModel model = new LlamaModel(parameters.config(), parameters.weights());
        Shard s = shard(sequence, parameters.config());
        try (MemoryScope scope = MemoryScope.open("sequence-parallel loss")) {
            return sum(CrossEntropy.ofModel(forward(model, s, null), parameters, s.targets(), chunkRows, null, false));
        }
    }

    /**
     * Every rank's loss sum and token count, added in rank order in double: each rank sends its
     * two doubles as (high, low) float pairs, which hold them to about 2^-48 (an F32 all-reduce of
     * the sum would round it to 2^-24).
     */
    private CrossEntropy.Loss sum(CrossEntropy.Loss local) {
        int p = comm.size();
        try (MemoryScope scope = MemoryScope.open("sequence-parallel loss sum")) {
            Tensor mine = Tensor.of(scope, new float[] {hi(local.sum()), lo(local.sum()), hi(local.tokens()), lo(local.tokens())}, 1, LOSS_FLOATS);
            Tensor all = Tensor.zeros(scope, DType.F32, p, LOSS_FLOATS);
            comm.allGather(mine, all, 0);
            float[] f = all.toFloatArray();
            double sum = 0, tokens = 0;
            for (int r = 0; r < p; r++) {
                sum += (double) f[LOSS_FLOATS * r] + f[LOSS_FLOATS * r + 1];
                tokens += (double) f[LOSS_FLOATS * r + 2] + f[LOSS_FLOATS * r + 3];
            }
            return new CrossEntropy.Loss(sum, Math.round(tokens));
        }
    }

    private static final int LOSS_FLOATS = 4;

    private static float hi(double x) {
        return (float) x;
    }

    private static float lo(double x) {
        return (float) (x - (float) x);
    }

    /**
     * Bytes rank {@code rank} of {@code ranks} sends in one training step of {@code microBatches}
     * sequences of {@code sequenceTokens} tokens (T + 1 each, as {@link #accumulate} takes them):
     * per micro-batch and layer one attention forward and backward of the scheme on the padded
     * sequence ({@link SequenceParallelScheme#attentionBytes}, from CommVolume; the same with
     * activation checkpointing, whose recomputed forward repeats no communication), then once per
     * step the bucketed all-reduce of the gradients ({@link GradientBuckets#bytes}: per call over n
     * F32 elements (4n - own chunk) + (P - 1)·own chunk bytes, 2(P-1)/P of the gradient when P
     * divides n) and the all-gather of the loss, as {@link Communicator#stats()} counts it.
     *
     * @param bucketElements the gradients' bucket, as given to the constructor
     */
    public static long expectedBytes(LlamaConfig config, List<Parameter> parameters, SequenceParallelScheme scheme, int teamSize, int ranks, int rank,
            int sequenceTokens, int microBatches, long bucketElements) {
        int positions = sequenceTokens - 1, m = scheme.chunkMultiple(ranks), total = Math.ceilDiv(positions, m) * m;
        long attention = (long) config.layers() * scheme.attentionBytes(total, ranks, rank, teamSize, config.heads(), config.kvHeads(), config.headDim());
        long allReduce = GradientBuckets.bytes(parameters, bucketElements, ranks, rank);
        long lossGather = (long) (ranks - 1) * LOSS_FLOATS * 4;
        return microBatches * attention + allReduce + lossGather;
    }

    /** {@link #expectedBytes(LlamaConfig, List, SequenceParallelScheme, int, int, int, int, int, long)} for this rank with this loss's scheme and buckets. */
    public long expectedBytes(LlamaConfig config, List<Parameter> parameters, int sequenceTokens, int microBatches) {
        return expectedBytes(config, parameters, scheme, teamSize, comm.size(), comm.rank(), sequenceTokens, microBatches, bucketElements);
    }
}
