package dev.corvus.train;

import dev.corvus.model.CheckpointException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * The training loop around a loss-and-gradients function: each step sums the gradients of
 * {@code microBatches} batches (gradient accumulation), scales them once by 1 / scored tokens (so
 * the loss is the token mean over the whole step), clips them by global norm, and takes an AdamW
 * update at the schedule's learning rate; every {@code checkpointEvery} steps it writes a
 * {@link TrainingCheckpoint}, every {@code validateEvery} steps it evaluates the validation loss.
 * {@link #resume} restores a checkpoint, after which the run continues exactly as an
 * uninterrupted one would.
 *
 * @param <B> the batch type the data source yields and the loss takes
 */
public final class Trainer<B> implements AutoCloseable {
    /**
     * Adds the gradient of the <em>summed</em> loss over a batch's scored tokens into each
     * parameter's gradient ({@link Parameter#grad()}, accumulating, never overwriting) and returns
     * that sum and the token count.
     */
    @FunctionalInterface
    public interface LossFunction<B> {
        CrossEntropy.Loss accumulate(B batch, Parameters parameters);

        /**
         * Called once per step after its micro-batches with their summed loss; returns the
         * step's loss, by which the trainer scales. A sequence-parallel loss sums the gradients
         * and the loss over its group of ranks here ({@link SequenceParallelGradients}), so that
         * every rank divides by the global token count and clips by the same global norm. By
         * default the loss is this process's alone.
         */
        default CrossEntropy.Loss combine(CrossEntropy.Loss local, Parameters parameters) {
            return local;
        }
    }

    /** The loss on held-out data, without gradients. */
    @FunctionalInterface
    public interface Validation {
        CrossEntropy.Loss evaluate(Parameters parameters);
    }

    /**
     * The loop's settings.
     *
     * @param microBatches    batches whose gradients are summed per update, positive
     * @param maxGradNorm     the global gradient norm is clipped to this; {@code Double.POSITIVE_INFINITY} for no clipping
     * @param schedule        learning rate per update
     * @param adam            optimiser settings
     * @param checkpointEvery steps between checkpoints (0: none)
     * @param checkpointFile  where checkpoints go (may be null when checkpointEvery is 0)
     * @param validateEvery   steps between validation losses (0: none)
     */
    public record Options(int microBatches, double maxGradNorm, LearningRateSchedule schedule, AdamW.Options adam, long checkpointEvery,
            Path checkpointFile, long validateEvery) {
        public Options {
            if (microBatches < 1) throw new IllegalArgumentException("micro-batches " + microBatches + " must be positive");
            if (!(maxGradNorm > 0)) throw new IllegalArgumentException("max gradient norm " + maxGradNorm + " must be positive");
            Objects.requireNonNull(schedule, "schedule");
            Objects.requireNonNull(adam, "adam");
            if (checkpointEvery < 0 || validateEvery < 0) throw new IllegalArgumentException("checkpoint and validation intervals must be >= 0");
            if (checkpointEvery > 0 && checkpointFile == null) throw new IllegalArgumentException("checkpoints every " + checkpointEvery + " steps need a file");
        }

        /** These options with validation every {@code steps} steps (0: none). */
        public Options withValidateEvery(long steps) {
            return new Options(microBatches, maxGradNorm, schedule, adam, checkpointEvery, checkpointFile, steps);
        }
    }

    /**
     * One update.
     *
     * @param step           the update's number, from 1
     * @param trainLoss      token-mean loss over the step's micro-batches
     * @param tokens         scored tokens in the step
     * @param gradNorm       global gradient norm before clipping
     * @param learningRate   the rate used
     * @param validationLoss token-mean validation loss after the update, NaN when not evaluated
     */
    public record StepRecord(long step, double trainLoss, long tokens, double gradNorm, float learningRate, double validationLoss) {}

    private final Parameters parameters;
    private final DataSource<B> data;
    private final LossFunction<B> loss;
    private final Validation validation;
    private final Options options;
    private final AdamW optimizer;
    private final List<StepRecord> history = new ArrayList<>();
    private Consumer<StepRecord> listener = r -> {};
    private long step;

    /** A trainer at step 0 with fresh AdamW moments; {@code validation} may be null. */
    public Trainer(Parameters parameters, DataSource<B> data, LossFunction<B> loss, Validation validation, Options options) {
        this.parameters = Objects.requireNonNull(parameters);
        this.data = Objects.requireNonNull(data);
        this.loss = Objects.requireNonNull(loss);
        this.validation = validation;
        this.options = Objects.requireNonNull(options);
        if (options.validateEvery() > 0 && validation == null) throw new IllegalArgumentException("validation every " + options.validateEvery() + " steps needs a validation function");
        this.optimizer = new AdamW(parameters, options.adam());
    }

    /** Called with each step's record as it completes (e.g. to print progress). */
    public Trainer<B> onStep(Consumer<StepRecord> listener) {
        this.listener = Objects.requireNonNull(listener);
        return this;
    }

    /** Updates done. */
    public long stepsDone() {
        return step;
    }

    public AdamW optimizer() {
        return optimizer;
    }

    /** The records of the steps this trainer ran (not those before a resume). */
    public List<StepRecord> history() {
        return Collections.unmodifiableList(history);
    }

    /** Runs updates until {@code totalSteps} are done; returns this run's records. */
    public List<StepRecord> runUntil(long totalSteps) throws IOException {
        while (step < totalSteps) step();
        return history();
    }

    /** One update: accumulate, scale, clip, AdamW; then a checkpoint and a validation when due. */
    public StepRecord step() throws IOException {
        parameters.zeroGrads();
        double sum = 0;
        long tokens = 0;
        for (int i = 0; i < options.microBatches(); i++) {
            CrossEntropy.Loss l = loss.accumulate(data.next(), parameters);
            sum += l.sum();
            tokens += l.tokens();
        }
        CrossEntropy.Loss combined = loss.combine(new CrossEntropy.Loss(sum, tokens), parameters);
        sum = combined.sum();
        tokens = combined.tokens();
        if (tokens == 0) throw new IllegalStateException("step " + (step + 1) + ": the " + options.microBatches() + " micro-batch(es) scored no token");
        parameters.scaleGrads((float) (1.0 / tokens));
        double norm = Double.isInfinite(options.maxGradNorm()) ? parameters.gradNorm() : parameters.clipGradNorm(options.maxGradNorm());
        if (!Double.isFinite(norm) || !Double.isFinite(sum)) {
            throw new IllegalStateException("step " + (step + 1) + ": the loss is " + sum / tokens + " and the gradient norm " + norm
                    + "; the parameters were not updated (lower the learning rate, or check the data)");
        }
        float lr = options.schedule().at(step);
        optimizer.update(lr);
        step++;
        double validationLoss = Double.NaN;
        if (options.validateEvery() > 0 && step % options.validateEvery() == 0) validationLoss = validation.evaluate(parameters).mean();
        if (options.checkpointEvery() > 0 && step % options.checkpointEvery() == 0) save(options.checkpointFile());
        StepRecord r = new StepRecord(step, sum / tokens, tokens, norm, lr, validationLoss);
        history.add(r);
        listener.accept(r);
        return r;
    }

    /** Writes the run's state to {@code file} (atomically). */
    public void save(Path file) throws IOException {
        TrainingCheckpoint.save(file, parameters, optimizer,
                new TrainingCheckpoint.State(step, data.position(), data.seed(), options.schedule().toString()));
    }

    /**
     * Restores the run from {@code file}: parameters, moments, step and data position. Refused
     * (nothing changed) when the file is damaged, of another model or optimiser setting, or was
     * written with another data seed or schedule.
     */
    public void resume(Path file) throws IOException {
        TrainingCheckpoint.State state = TrainingCheckpoint.load(file, parameters, optimizer, saved -> {
            if (saved.seed() != data.seed()) {
                throw new CheckpointException(file, "was written with data seed " + saved.seed() + ", and the data now has seed " + data.seed());
            }
            if (!saved.schedule().equals(options.schedule().toString())) {
                throw new CheckpointException(file, "was written with schedule " + saved.schedule() + ", and the trainer now has " + options.schedule());
            }
        });
        step = state.step();
        data.seek(state.position());
    }

    /** Frees the optimiser's moments (the parameters belong to the caller). */
    @Override
    public void close() {
        optimizer.close();
    }
}
