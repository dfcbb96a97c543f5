package dev.corvus.train;

/**
 * The learning rate at each optimiser step. A schedule is a pure function of the step, so a
 * checkpoint needs only the step to resume it; its {@code toString()} (a record's, for the
 * schedules here) is written into training checkpoints, and resuming under a schedule that prints
 * differently is refused.
 */
@FunctionalInterface
public interface LearningRateSchedule {
    /** The learning rate of update {@code step} (0 for the first). */
    float at(long step);

    /** The same rate at every step. */
    static LearningRateSchedule constant(float lr) {
        return new Constant(lr);
    }

    /**
     * {@link #constant}'s schedule.
     *
     * @param lr the rate of every update
     */
    record Constant(float lr) implements LearningRateSchedule {
        public Constant {
            if (!(lr >= 0) || Float.isInfinite(lr)) throw new IllegalArgumentException("learning rate " + lr + " must be >= 0");
        }

        @Override
        public float at(long step) {
            return lr;
        }
    }

    /**
     * Linear warm-up then cosine decay: the rate climbs from peak/warmup to peak over the first
     * {@code warmupSteps} updates (update s gets peak·(s+1)/warmup), then falls along half a cosine
     * from peak to {@code min} at update {@code totalSteps}, and stays at min after it.
     */
    static LearningRateSchedule warmupCosine(float peak, float min, long warmupSteps, long totalSteps) {
        return new WarmupCosine(peak, min, warmupSteps, totalSteps);
    }

    /**
     * {@link #warmupCosine}'s schedule.
     *
     * @param peak        rate at the end of the warm-up
     * @param min         rate at and after {@code totalSteps}
     * @param warmupSteps updates of linear warm-up (0: none)
     * @param totalSteps  updates until the rate reaches min
     */
    record WarmupCosine(float peak, float min, long warmupSteps, long totalSteps) implements LearningRateSchedule {
        public WarmupCosine {
            if (!(peak > 0) || Float.isInfinite(peak)) throw new IllegalArgumentException("peak learning rate " + peak + " must be positive");
            if (!(min >= 0) || min > peak) throw new IllegalArgumentException("minimum learning rate " + min + " must be in [0, peak " + peak + "]");
            if (warmupSteps < 0 || totalSteps <= warmupSteps) {
                throw new IllegalArgumentException("warm-up steps " + warmupSteps + " must be >= 0 and fewer than the total steps " + totalSteps);
            }
        }

        @Override
        public float at(long step) {
            if (step < 0) throw new IllegalArgumentException("step " + step + " is negative");
            if (step < warmupSteps) return (float) ((double) peak * (step + 1) / warmupSteps);
            if (step >= totalSteps) return min;
            double progress = (double) (step - warmupSteps) / (totalSteps - warmupSteps);
            return (float) (min + 0.5 * (peak - min) * (1 + Math.cos(Math.PI * progress)));
        }
    }
}
