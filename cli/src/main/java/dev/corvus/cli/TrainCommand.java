package dev.corvus.cli;

import dev.corvus.comm.CommException;
import dev.corvus.comm.Communicator;
import dev.corvus.comm.Communicators;
import dev.corvus.comm.InJvmCluster;
import dev.corvus.comm.InJvmCommunicator;
import dev.corvus.comm.RankFailureException;
import dev.corvus.model.Checkpoint;
import dev.corvus.model.LlamaConfig;
import dev.corvus.model.Tokenizer;
import dev.corvus.parallel.StarTrailTopology;
import dev.corvus.plotting.LossCurves;
import dev.corvus.tensor.Backends;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.Parallel;
import dev.corvus.train.AdamW;
import dev.corvus.train.CrossEntropy;
import dev.corvus.train.DecoderGradients;
import dev.corvus.train.GradientBuckets;
import dev.corvus.train.LearningRateSchedule;
import dev.corvus.train.Parameters;
import dev.corvus.train.SequenceParallelGradients;
import dev.corvus.train.SequenceParallelScheme;
import dev.corvus.train.TokenDataset;
import dev.corvus.train.Trainer;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.function.BiFunction;
import java.util.function.LongSupplier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code corvus train}: fine-tunes a Llama-family model on text files. The text is tokenised with
 * the model's tokenizer and packed into sequences of --seq-len + 1 tokens ({@link TokenDataset});
 * the {@link Trainer} takes AdamW steps on the decoder's gradients ({@link DecoderGradients}) under
 * a warm-up + cosine schedule, with gradient accumulation and clipping, checkpoints it can resume
 * from, and a held-out loss every --validate-every steps. The result is written as GGUF (what
 * {@code corvus generate --model} loads) and, with --plot, the train and validation curves as a PNG.
 *
 * <p>With --ranks P (P in-JVM ranks, threads) or under {@code mpirun -np P} (P processes) the
 * sequence is split over the ranks ({@link SequenceParallelGradients}): every rank runs the same
 * loop ({@link #trainRank}) with its own parameters and trainer on the same sequences, attention
 * crosses ranks by --scheme, and the gradients are all-reduced, so every rank takes the one-device
 * step. Rank 0 reports and writes the files.
 */
@Command(name = "train", sortOptions = false,
        description = {"Fine-tune a Llama-family model (llama2.c checkpoint or GGUF) on UTF-8 text: AdamW, warm-up + cosine learning rate,",
            "gradient clipping and accumulation, resumable checkpoints, a held-out loss; writes the tuned model as GGUF and the loss curves as PNG.",
            "Documents are separated by blank lines; each starts with BOS, and they are packed into sequences of --seq-len + 1 tokens."})
final class TrainCommand implements Callable<Integer> {
    /** Rows of the cross-entropy per chunk: its [rows, vocab] logits are the largest scratch buffer (64 × 32000 F32 = 8 MB for stories15M). */
    static final int CROSS_ENTROPY_ROWS = 64;
    /** AdamW's betas and ε: the usual language-model values (β2 0.95 as llama2.c's train.py and nanoGPT use). */
    static final float BETA1 = 0.9f, BETA2 = 0.95f, EPS = 1e-8f;
    /** In-JVM ranks are threads; more than this is a typing error rather than a plan. */
    static final int MAX_RANKS = 1024;

    @Option(names = "--model", paramLabel = "PATH", description = "llama2.c checkpoint (.bin) or GGUF file to start from (default: TinyStories 15M, fetched into ~/.cache/corvus).")
    Path model;

    @Option(names = "--tokenizer", paramLabel = "PATH", description = "llama2.c tokenizer.bin (default: the GGUF's own, or tokenizer.bin beside the checkpoint).")
    Path tokenizer;

    @Option(names = "--data", required = true, arity = "1..*", paramLabel = "FILE", description = "UTF-8 training text, one or more files.")
    List<Path> data;

    @Option(names = "--validation", paramLabel = "FILE", description = "Held-out UTF-8 text for the validation loss (default: --validation-fraction of --data).")
    Path validationFile;

    @Option(names = "--validation-fraction", paramLabel = "F", description = "Share of --data's sequences held out for validation, in (0, 0.5) (default: 0.02).")
    Double validationFraction;

    @Option(names = "--validation-sequences", paramLabel = "V", defaultValue = "16",
            description = "Held-out sequences each validation loss is over, at most (default ${DEFAULT-VALUE}); each costs a forward pass.")
    int validationSequences;

    @Option(names = "--validate-every", paramLabel = "K", description = "Steps between validation losses (default: a tenth of --steps); 0: only before and after.")
    Integer validateEvery;

    @Option(names = "--seq-len", required = true, paramLabel = "N", description = "Input tokens per training sequence.")
    int seqLen;

    @Option(names = "--steps", required = true, paramLabel = "S", description = "Optimiser steps in all (a resumed run continues up to S).")
    long steps;

    @Option(names = "--lr", required = true, paramLabel = "X", description = "Peak learning rate, e.g. 3e-4.")
    float lr;

    @Option(names = "--warmup", paramLabel = "W", defaultValue = "0", description = "Steps of linear warm-up before the cosine decay (default ${DEFAULT-VALUE}).")
    long warmup;

    @Option(names = "--min-lr", paramLabel = "X", description = "Learning rate the cosine decays to at the last step (default: --lr / 10).")
    Float minLr;

    @Option(names = "--weight-decay", paramLabel = "X", defaultValue = "0.01", description = "AdamW decoupled weight decay, not on norms and biases (default ${DEFAULT-VALUE}).")
    float weightDecay;

    @Option(names = "--clip", paramLabel = "X", defaultValue = "1.0", description = "Clip the global gradient norm to this (default ${DEFAULT-VALUE}); 0: no clipping.")
    double clip;

    @Option(names = "--micro-batches", paramLabel = "M", defaultValue = "1", description = "Sequences whose gradients are summed per step (default ${DEFAULT-VALUE}).")
    int microBatches;

    @Option(names = "--checkpoint", paramLabel = "FILE", description = "Training checkpoint (parameters, AdamW moments, step, data position), written atomically every"
            + " --checkpoint-every steps and at the end.")
    Path checkpoint;

    @Option(names = "--checkpoint-every", paramLabel = "K", defaultValue = "0", description = "Steps between checkpoints (default: only at the end); needs --checkpoint.")
    long checkpointEvery;

    @Option(names = "--resume", paramLabel = "FILE", description = "Continue the run saved in this checkpoint (same model, data, --seed and schedule options).")
    Path resume;

    @Option(names = "--stop-after", paramLabel = "K", description = "Stop once K of the --steps are done, writing --checkpoint and --out;"
            + " a later run with --resume continues the same schedule to --steps.")
    Long stopAfter;

    @Option(names = "--out", required = true, paramLabel = "GGUF", description = "Where the tuned model goes (replaced atomically at the end).")
    Path out;

    @Option(names = "--out-type", paramLabel = "f32|f16|bf16|q8_0", defaultValue = "f32", description = "Type of the exported weight matrices (default ${DEFAULT-VALUE}).")
    String outType;

    @Option(names = "--plot", paramLabel = "PNG", description = "Write the train and validation loss curves here as a PNG (a resumed run's curves start where it resumed).")
    Path plot;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "1", description = "Seed of the held-out split and of the order sequences are read in (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--ranks", paramLabel = "P", defaultValue = "1", description = "In-JVM ranks (threads) the sequence is split over (default ${DEFAULT-VALUE}: one device);"
            + " under mpirun the MPI world's processes are the ranks.")
    int ranks;

    @Option(names = "--scheme", paramLabel = "ring|startrail|ulysses", defaultValue = "ring", description = "Sequence-parallel attention with --ranks > 1 (default ${DEFAULT-VALUE}).")
    SpDemoCommand.Scheme scheme;

    @Option(names = "--team-size", paramLabel = "C", defaultValue = "1", description = "StarTrail team size: C and C² must divide --ranks (default ${DEFAULT-VALUE}).")
    int teamSize;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "300", description = "With several ranks: how long a rank waits on the others in one"
            + " collective before every rank stops with an error (default ${DEFAULT-VALUE}).")
    int timeoutSeconds;

    @Option(names = "--checkpoint-blocks", description = "Activation checkpointing: hold only each decoder block's input from the forward to the backward,"
            + " which runs the block again (one device or --ranks; the sequence-parallel attention keeps its output, so no communication is repeated).")
    boolean checkpointBlocks;

    @Option(names = "--bucket-mib", paramLabel = "MIB", defaultValue = "25", description = "With several ranks: the gradients are all-reduced in buckets of this"
            + " many MiB, one call each (default ${DEFAULT-VALUE}, as PyTorch DDP); 0: one all-reduce per parameter.")
    double bucketMib;

    @Option(names = "--backend", paramLabel = "scalar|vector", description = "CPU backend (same as -Dcorvus.backend; default: the best available).")
    String backend;

    @Spec
    CommandSpec spec;

    /**
     * How the sequence is split over ranks: P ranks, the attention scheme and StarTrail's team
     * size; whether decoder blocks are recomputed in backward, and the gradient all-reduce's
     * bucket in F32 elements.
     */
    record SequenceParallelism(int ranks, SpDemoCommand.Scheme scheme, int teamSize, boolean checkpointBlocks, long bucketElements) {

        boolean singleDevice() {
            return ranks == 1;
        }

        SequenceParallelScheme trainScheme() {
            return SequenceParallelScheme.parse(scheme.name());
        }

        String label() {
            String recompute = checkpointBlocks ? ", checkpointed blocks" : "";
            if (singleDevice()) return "one device" + recompute;
            return ranks + " ranks, " + (scheme == SpDemoCommand.Scheme.startrail ? "startrail C=" + teamSize : scheme.name()) + recompute;
        }
    }

    /**
     * One rank's loss: the gradients {@link Trainer} takes, the summed loss of a held-out sequence
     * (a collective with several ranks: every rank evaluates the same sequences in the same
     * order), and the communicator whose {@link Communicator#stats()} count the bytes sent (null
     * on one device).
     */
    record RankLoss(Trainer.LossFunction<int[]> gradients, BiFunction<int[], Parameters, CrossEntropy.Loss> heldOut, Communicator comm) {}

    /**
     * The loss for {@code parallelism} on one rank: on one device ({@code comm} null) the
     * decoder's gradients; with several ranks the sequence split over {@code comm}'s ranks (zigzag
     * for ring and StarTrail, contiguous for Ulysses), attention by the scheme and weight
     * gradients all-reduced over the group ({@link SequenceParallelGradients}).
     */
    static RankLoss lossFunctionFor(SequenceParallelism parallelism, Communicator comm) {
        if (comm == null) {
            DecoderGradients d = new DecoderGradients(CROSS_ENTROPY_ROWS, parallelism.checkpointBlocks());
            return new RankLoss(d, d::loss, null);
        }
        SequenceParallelGradients sp = new SequenceParallelGradients(comm, parallelism.trainScheme(), parallelism.teamSize(), CROSS_ENTROPY_ROWS,
                parallelism.checkpointBlocks(), parallelism.bucketElements());
        return new RankLoss(sp, sp::loss, comm);
    }

    /** What every rank reads and none changes: the model file, its tokenizer and the held-out sequences. */
    private record Shared(Path path, Checkpoint ckpt, Tokenizer tok, LlamaConfig config, List<int[]> heldOut,
            SequenceParallelism parallelism, DType exportType, long wallStart) {}

    @Override
    public Integer call() throws Exception {
        long wallStart = System.nanoTime();
        DType exportType = checkOptions();
        if (timeoutSeconds < 1) throw Cli.usage(spec, "--timeout " + timeoutSeconds + ": expected at least 1 second");
        Duration timeout = Duration.ofSeconds(timeoutSeconds);
        // as sp-demo: under mpirun (or -Dcorvus.comm=mpi) the MPI world's processes are the ranks; its
        // shutdown hook finalizes MPI, so it is not closed here. A world of one leaves --ranks to decide;
        // without a launcher or -Dcorvus.comm no world is made (nor its "communicator local" line printed).
        Communicator world = Communicators.launchedByMpi() || System.getProperty("corvus.comm") != null ? Communicators.fromEnvironment(timeout) : null;
        if (world != null && world.size() == 1) {
            world.close();
            world = null;
        }
        if (world != null) {
            if (ranks != 1 && ranks != world.size()) {
                throw Cli.usage(spec, "--ranks " + ranks + " under an MPI launch of " + world.size() + " processes: leave --ranks out (the MPI world gives P) or give " + world.size());
            }
            ranks = world.size();
        }
        SequenceParallelism parallelism = checkParallelism();
        if (backend != null) Cli.forceBackend(backend);
        boolean leader = world == null || world.rank() == 0;
        PrintWriter err = leader ? spec.commandLine().getErr() : new PrintWriter(Writer.nullWriter());
        Path path = model != null ? model : Cli.defaultModel();
        try (Checkpoint ckpt = Cli.load(path, tokenizer)) {
            Tokenizer tok = Cli.tokenizer(ckpt, path);
            LlamaConfig config = ckpt.config();
            checkParallelismFits(parallelism, config);

            long t0 = System.nanoTime();
            TokenDataset dataset = dataset(data, "--data", tok, validationFile != null ? 0 : fraction());
            List<int[]> heldOut = heldOut(dataset, tok);
            err.printf(Locale.ROOT, "corvus: %s: %d tokens, %d training sequences of %d tokens; validation over %d held-out sequence(s) (%s); tokenised in %.1f s%n",
                    describe(data), dataset.totalTokens(), dataset.trainSequences(), seqLen + 1, heldOut.size(),
                    validationFile != null ? validationFile.toString() : "of " + dataset.validationSequences() + " held out",
                    (System.nanoTime() - t0) / 1e9);
            if (seqLen > config.seqLen()) {
                err.printf(Locale.ROOT, "corvus: --seq-len %d is longer than the model's context of %d: positions past it are learnt here"
                        + " (generate with --ctx up to %d)%n", seqLen, config.seqLen(), seqLen);
            }
            err.flush();
            Shared shared = new Shared(path, ckpt, tok, config, heldOut, parallelism, exportType, wallStart);
            if (world != null && world.size() > 1) {
                trainRank(shared, world, dataset, err);
            } else if (parallelism.singleDevice()) {
                trainRank(shared, null, dataset, err);
            } else {
                PrintWriter silent = new PrintWriter(Writer.nullWriter());
                try {
                    // each rank its own Parameters, Trainer and data cursor; rank 0 reports and writes the files
                    InJvmCluster.run(parallelism.ranks(), timeout, comm -> trainRank(shared, comm, comm.rank() == 0 ? dataset : dataset.copy(), comm.rank() == 0 ? err : silent));
                } catch (RankFailureException e) {
                    // a bad option or file fails every rank alike: report it as itself, not as "rank N failed"
                    if (e.getCause() instanceof Exception cause && !(cause instanceof CommException)) throw cause;
                    throw e;
                }
            }
        }
        return Main.OK;
    }

    /**
     * The training run of one rank, the same for one device ({@code comm} null) and each of P
     * ranks: its own parameters and trainer over {@code sequences} (every rank's reads the same
     * sequences in the same order); rank 0 alone writes the checkpoints, the GGUF and the curves,
     * and reports on {@code err} (the other ranks are given a silent writer).
     */
    private Void trainRank(Shared run, Communicator comm, TokenDataset sequences, PrintWriter err) throws IOException {
        boolean leader = comm == null || comm.rank() == 0;
        RankLoss rankLoss = lossFunctionFor(run.parallelism(), comm);
        LongSupplier bytesSent = comm != null ? () -> comm.stats().totalBytes() : () -> 0;
        try (Parameters parameters = Parameters.of(run.config(), run.ckpt().weights())) {
            // time and bytes of validations, taken off the steps they run in
            long[] validationNanos = {0}, validationBytes = {0};
            Trainer.Validation validation = p -> {
                long v0 = System.nanoTime(), b0 = bytesSent.getAsLong();
                CrossEntropy.Loss l = heldOutLoss(rankLoss.heldOut(), run.heldOut(), p);
                validationNanos[0] += System.nanoTime() - v0;
                validationBytes[0] += bytesSent.getAsLong() - b0;
                return l;
            };
            LearningRateSchedule schedule = LearningRateSchedule.warmupCosine(lr, minLr != null ? minLr : lr / 10, warmup, steps);
            long every = validateEvery != null ? validateEvery : Math.max(1, steps / 10);
            Trainer.Options options = new Trainer.Options(microBatches, clip == 0 ? Double.POSITIVE_INFINITY : clip, schedule,
                    new AdamW.Options(BETA1, BETA2, EPS, weightDecay), leader ? checkpointEvery : 0, leader ? checkpoint : null, every);
            try (Trainer<int[]> trainer = new Trainer<>(parameters, sequences, rankLoss.gradients(), validation, options)) {
                if (resume != null) {
                    trainer.resume(resume);
                    if (trainer.stepsDone() >= steps) {
                        throw new IllegalArgumentException("--resume " + resume + " is at step " + trainer.stepsDone() + ", and --steps is " + steps
                                + ": nothing is left to train (raise --steps, and the schedule with it, in a new run)");
                    }
                    err.printf(Locale.ROOT, "corvus: resumed %s at step %d of %d%n", resume, trainer.stepsDone(), steps);
                }
                long firstStep = trainer.stepsDone(), lastStep = stopAfter != null ? stopAfter : steps;
                if (lastStep <= firstStep) {
                    throw Cli.usage(spec, "--stop-after " + lastStep + ": the run resumed at step " + firstStep + "; expected a later step, up to --steps " + steps);
                }
                err.printf(Locale.ROOT, "corvus: training %s (%s, %,d parameters) on %s, %s backend, %d thread(s): %d step(s) of %d x %d tokens, lr %s%n",
                        run.path().getFileName(), run.config().architecture(), parameters.numel(), run.parallelism().label(), Backends.cpu().name(),
                        Parallel.parallelism(), lastStep - firstStep, microBatches, seqLen, schedule);
                long predicted = -1;
                if (comm != null) {
                    predicted = ((SequenceParallelGradients) rankLoss.gradients()).expectedBytes(run.config(), parameters.list(), seqLen + 1, microBatches);
                    err.printf(Locale.ROOT, "corvus: rank %d of %d (%s) sends %.2f MiB per step by the scheme's count (attention and the gradient all-reduce)%n",
                            comm.rank(), comm.size(), comm instanceof InJvmCommunicator ? "in-JVM threads" : "MPI processes", predicted / TrainingProgress.MIB);
                }
                err.flush();
                double before = validation.evaluate(parameters).mean();
                validationNanos[0] = 0; // the tokens/s below are of the steps alone
                List<LossCurves.Point> validationCurve = new ArrayList<>(List.of(new LossCurves.Point(firstStep, before)));
                long trainStart = System.nanoTime();
                try (TrainingProgress progress = leader ? TrainingProgress.forStderr(err, firstStep, steps, comm != null) : TrainingProgress.lines(err, steps, false)) {
                    progress.predictedBytesPerRank(predicted);
                    progress.validation(firstStep, before);
                    long[] last = {System.nanoTime(), 0, bytesSent.getAsLong(), validationBytes[0]};
                    trainer.onStep(r -> {
                        long now = System.nanoTime(), stepNanos = now - last[0] - (validationNanos[0] - last[1]);
                        long sent = bytesSent.getAsLong(), stepBytes = sent - last[2] - (validationBytes[0] - last[3]);
                        last[0] = now;
                        last[1] = validationNanos[0];
                        last[2] = sent;
                        last[3] = validationBytes[0];
                        progress.step(r, r.tokens() / (stepNanos / 1e9), comm != null ? stepBytes : -1);
                        if (Double.isFinite(r.validationLoss())) {
                            validationCurve.add(new LossCurves.Point(r.step(), r.validationLoss()));
                            progress.validation(r.step(), r.validationLoss());
                        }
                    });
                    trainer.runUntil(lastStep);
                    if (validationCurve.getLast().step() != lastStep) {
                        double end = validation.evaluate(parameters).mean();
                        validationCurve.add(new LossCurves.Point(lastStep, end));
                        progress.validation(lastStep, end);
                    }
                }
                if (!leader) return null;
                double trainSeconds = (System.nanoTime() - trainStart - validationNanos[0]) / 1e9;
                if (checkpoint != null && (checkpointEvery == 0 || lastStep % checkpointEvery != 0)) trainer.save(checkpoint);
                parameters.exportGguf(out, run.tok(), run.exportType());
                List<Trainer.StepRecord> history = trainer.history();
                if (plot != null) {
                    List<LossCurves.Point> trainCurve = history.stream().map(r -> new LossCurves.Point(r.step(), r.trainLoss())).toList();
                    String title = String.format(Locale.ROOT, "%s on %s, %d-token sequences", run.path().getFileName(), describe(data), seqLen);
                    LossCurves.writePng(plot, new LossCurves.Curves(title, trainCurve, validationCurve), 900, 540);
                }
                long tokens = history.stream().mapToLong(Trainer.StepRecord::tokens).sum();
                double after = validationCurve.getLast().loss();
                err.printf(Locale.ROOT, "corvus: held-out loss %.4f -> %.4f over %d sequence(s) of %d tokens; %d step(s), %,d tokens at %.0f tokens/s"
                        + " (%.1f s of steps); wall %.1f s%n", before, after, run.heldOut().size(), seqLen, history.size(), tokens, tokens / trainSeconds,
                        trainSeconds, (System.nanoTime() - run.wallStart()) / 1e9);
                err.printf(Locale.ROOT, "corvus: wrote %s (%s matrices, %.1f MB)%s%s%n", out, run.exportType(), Files.size(out) / 1e6,
                        plot != null ? ", loss curves " + plot : "", checkpoint != null ? ", checkpoint " + checkpoint : "");
                err.flush();
                return null;
            }
        }
    }

    /** Every check that needs no file read: fails in milliseconds, before the model loads. */
    private DType checkOptions() {
        if (seqLen < 1) throw Cli.usage(spec, "--seq-len " + seqLen + ": expected a positive number of tokens");
        if (steps < 1) throw Cli.usage(spec, "--steps " + steps + ": expected at least 1");
        if (!(lr > 0) || Float.isInfinite(lr)) throw Cli.usage(spec, "--lr " + lr + ": expected a positive learning rate, e.g. 3e-4");
        if (minLr != null && !(minLr >= 0 && minLr <= lr)) throw Cli.usage(spec, "--min-lr " + minLr + ": expected 0 to --lr " + lr);
        if (warmup < 0 || warmup >= steps) throw Cli.usage(spec, "--warmup " + warmup + ": expected 0 to --steps - 1 = " + (steps - 1));
        if (!(weightDecay >= 0) || Float.isInfinite(weightDecay)) throw Cli.usage(spec, "--weight-decay " + weightDecay + ": expected a number >= 0");
        if (!(clip >= 0) || Double.isInfinite(clip)) throw Cli.usage(spec, "--clip " + clip + ": expected a gradient norm > 0, or 0 for no clipping");
        if (microBatches < 1) throw Cli.usage(spec, "--micro-batches " + microBatches + ": expected at least 1");
        if (validationFile != null && validationFraction != null) {
            throw Cli.usage(spec, "--validation and --validation-fraction: give one (a held-out file, or a share of --data to hold out)");
        }
        if (validationFraction != null && !(validationFraction > 0 && validationFraction < 0.5)) {
            throw Cli.usage(spec, "--validation-fraction " + validationFraction + ": expected a share of the sequences in (0, 0.5), e.g. 0.02");
        }
        if (validationSequences < 1) throw Cli.usage(spec, "--validation-sequences " + validationSequences + ": expected at least 1");
        if (validateEvery != null && validateEvery < 0) throw Cli.usage(spec, "--validate-every " + validateEvery + ": expected 0 (only before and after) or more");
        if (checkpointEvery < 0) throw Cli.usage(spec, "--checkpoint-every " + checkpointEvery + ": expected 0 (only at the end) or more");
        if (checkpointEvery > 0 && checkpoint == null) throw Cli.usage(spec, "--checkpoint-every " + checkpointEvery + " needs --checkpoint FILE to write to");
        if (stopAfter != null && !(stopAfter >= 1 && stopAfter < steps)) throw Cli.usage(spec, "--stop-after " + stopAfter + ": expected 1 to --steps - 1 = " + (steps - 1));
        if (stopAfter != null && checkpoint == null) throw Cli.usage(spec, "--stop-after " + stopAfter + " needs --checkpoint FILE, to resume from");
        for (Path f : data) requireInput(f, "--data");
        if (validationFile != null) requireInput(validationFile, "--validation");
        if (resume != null) requireInput(resume, "--resume");
        requireWritable(out, "--out");
        if (plot != null) requireWritable(plot, "--plot");
        if (checkpoint != null) requireWritable(checkpoint, "--checkpoint");
        return exportType();
    }

    private DType exportType() {
        return switch (outType.trim().toLowerCase(Locale.ROOT)) {
            case "f32" -> DType.F32;
            case "f16" -> DType.F16;
            case "bf16" -> DType.BF16;
            case "q8_0", "q8" -> DType.Q8_0;
            default -> throw Cli.usage(spec, "--out-type " + outType + ": expected f32, f16, bf16 or q8_0");
        };
    }

    private SequenceParallelism checkParallelism() {
        if (ranks < 1 || ranks > MAX_RANKS) throw Cli.usage(spec, "--ranks " + ranks + ": expected 1 to " + MAX_RANKS);
        if (teamSize != 1 && scheme != SpDemoCommand.Scheme.startrail) {
            throw Cli.usage(spec, "--team-size " + teamSize + " is StarTrail's; it needs --scheme startrail (the scheme is " + scheme + ")");
        }
        if (scheme == SpDemoCommand.Scheme.startrail) {
            try {
                new StarTrailTopology(ranks, teamSize);
            } catch (IllegalArgumentException e) {
                throw Cli.usage(spec, "--team-size " + teamSize + " with --ranks " + ranks + ": expected C with C and C² dividing P (" + e.getMessage() + ")");
            }
        }
        // the zigzag layout gives rank r chunks r and 2P-1-r of 2P equal ones
        if (ranks > 1 && seqLen % (2 * ranks) != 0) {
            throw Cli.usage(spec, "--seq-len " + seqLen + " with --ranks " + ranks + ": expected a multiple of 2 x " + ranks + " = " + 2 * ranks
                    + " (the zigzag layout cuts the sequence into 2P equal chunks)");
        }
        long bucket;
        try {
            bucket = GradientBuckets.elementsOfMib(bucketMib);
        } catch (IllegalArgumentException e) {
            throw Cli.usage(spec, "--bucket-mib " + bucketMib + ": expected 0 (one all-reduce per parameter) or a size in MiB, e.g. 25");
        }
        return new SequenceParallelism(ranks, scheme, teamSize, checkpointBlocks, bucket);
    }

    private void checkParallelismFits(SequenceParallelism p, LlamaConfig config) {
        if (p.scheme() == SpDemoCommand.Scheme.ulysses && p.ranks() > 1 && (config.heads() % p.ranks() != 0 || config.kvHeads() % p.ranks() != 0)) {
            throw Cli.usage(spec, "--scheme ulysses with --ranks " + p.ranks() + ": the model's " + config.heads() + " query and " + config.kvHeads()
                    + " key/value heads must both be multiples of the ranks (Ulysses gives each rank whole heads)");
        }
    }

    private double fraction() {
        return validationFraction != null ? validationFraction : 0.02;
    }

    private TokenDataset dataset(List<Path> files, String option, Tokenizer tok, double heldOutFraction) throws IOException {
        try {
            return TokenDataset.fromFiles(files, tok, seqLen, heldOutFraction, seed);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(option + " " + describe(files) + " with --seq-len " + seqLen + ": " + e.getMessage(), e);
        }
    }

    /**
     * The sequences each validation loss is over: --validation-sequences of the held-out ones, or
     * of the --validation file's, a random choice fixed by --seed.
     */
    private List<int[]> heldOut(TokenDataset dataset, Tokenizer tok) throws IOException {
        List<int[]> held = new ArrayList<>();
        if (validationFile == null) {
            for (int i = 0; i < Math.min(validationSequences, dataset.validationSequences()); i++) held.add(dataset.validation(i));
            return held;
        }
        // all of the file's sequences are "training" ones of a dataset of its own; one pass reads each once
        TokenDataset file = dataset(List.of(validationFile), "--validation", tok, 0);
        for (int i = 0; i < Math.min(validationSequences, file.trainSequences()); i++) held.add(file.next());
        return held;
    }

    private static CrossEntropy.Loss heldOutLoss(BiFunction<int[], Parameters, CrossEntropy.Loss> loss, List<int[]> sequences, Parameters p) {
        double sum = 0;
        long tokens = 0;
        for (int[] s : sequences) {
            CrossEntropy.Loss l = loss.apply(s, p);
            sum += l.sum();
            tokens += l.tokens();
        }
        return new CrossEntropy.Loss(sum, tokens);
    }

    private static String describe(List<Path> files) {
        return files.size() == 1 ? files.getFirst().getFileName().toString() : files.size() + " files";
    }

    private void requireInput(Path f, String option) {
        try {
            Cli.requireFile(f, option);
        } catch (IllegalArgumentException e) {
            throw Cli.usage(spec, e.getMessage());
        }
    }

    /** A file the run writes at its end: refused now if it could not be, rather than after the training. */
    private void requireWritable(Path f, String option) {
        if (Files.isDirectory(f)) throw Cli.usage(spec, option + " " + f + " is a directory; name the file to write in it");
        Path folder = f.toAbsolutePath().getParent();
        if (folder == null || !Files.isDirectory(folder)) throw Cli.usage(spec, option + " " + f + ": the folder " + folder + " does not exist");
        if (!Files.isWritable(folder)) throw Cli.usage(spec, option + " " + f + ": the folder " + folder + " is not writable");
    }
}
