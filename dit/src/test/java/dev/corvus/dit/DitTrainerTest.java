package dev.corvus.dit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.comm.InJvmCluster;
import dev.corvus.dit.DitConfig.Schedule;
import dev.corvus.dit.DitTraining.Batch;
import dev.corvus.dit.VideoDiT.Init;
import dev.corvus.dit.VideoDiT.Scheme;
import dev.corvus.dit.VideoDiT.Weights;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.testing.Close;
import dev.corvus.train.AdamW;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The optimiser loop: the loss of a batch falls, and ranks training under DSP end with one device's weights. */
class DitTrainerTest {
    /** 4 frames of 8×8 in 2×2 patches (T' = 4, S = 16), C = 16 in 2 heads, one block. */
    static DitConfig tiny() {
        return new DitConfig(4, 8, 8, 3, 1, 2, 2, 16, 2, 1, 32, 2, 2, 8, 16, Schedule.STDIT, 1e-6f);
    }

    static final MovingSquaresTask TASK = new MovingSquaresTask(4, 8, 2, 2);
    static final AdamW.Options ADAM = new AdamW.Options(0.9f, 0.99f, 1e-8f, 0f);

    @Test
    void theLossOfARepeatedBatchFalls() {
        try (MemoryScope scope = MemoryScope.open("train")) {
            Weights w = VideoDiT.initialise(tiny(), 5, Init.ADALN_ZERO, scope);
            Batch batch = TASK.sampler(4, 9, scope).next();
            try (DitTrainer trainer = new DitTrainer(w, ADAM, 1.0)) {
                double first = trainer.step(batch, 3e-3f), last = first;
                for (int i = 0; i < 40; i++) last = trainer.step(batch, 3e-3f);
                assertThat(last).as("loss after 41 steps on one batch, from " + first).isLessThan(0.6 * first);
            }
        }
    }

    @Test
    void ranksTrainingUnderDspKeepOneDevicesWeights() {
        DitConfig cfg = new DitConfig(4, 6, 6, 3, 1, 2, 2, 16, 2, 1, 32, 2, 2, 8, 16, Schedule.STDIT, 1e-6f); // S = 9 over 4 ranks
        MovingSquaresTask task = new MovingSquaresTask(4, 6, 2, 2);
        List<float[]> expected = trained(cfg, task, null, null);
        List<List<float[]>> ranks = InJvmCluster.run(4, VideoDiTTest.TIMEOUT, comm -> trained(cfg, task, comm, Scheme.DSP));
        for (int r = 0; r < ranks.size(); r++) {
            for (int i = 0; i < expected.size(); i++) {
                // three AdamW steps amplify fp32 rounding of the summed gradients little: the update is ~lr·sign
                Close.assertAllClose("rank " + r + " parameter " + i, expected.get(i), ranks.get(r).get(i), 1e-4, 1e-3);
            }
        }
    }

    private static List<float[]> trained(DitConfig cfg, MovingSquaresTask task, dev.corvus.comm.Communicator comm, Scheme scheme) {
        try (MemoryScope scope = MemoryScope.open("train")) {
            Weights w = VideoDiT.initialise(cfg, 5, Init.ADALN_ZERO, scope);
            MovingSquaresTask.Sampler data = task.sampler(2, 9, scope);
            try (DitTrainer trainer = new DitTrainer(w, ADAM, 1.0)) {
                for (int i = 0; i < 3; i++) {
                    try (MemoryScope step = MemoryScope.open("batch")) {
                        Batch b = data.next();
                        if (comm == null) trainer.step(b, 1e-3f);
                        else trainer.step(comm, scheme, b, 1e-3f);
                    }
                }
            }
            List<float[]> out = new ArrayList<>();
            for (Tensor t : w.parameters().values()) out.add(t.toFloatArray());
            return out;
        }
    }

    @Test
    void badSettingsNameTheField() {
        assertThatThrownBy(() -> new MovingSquaresTask(4, 8, 0, 2)).hasMessageContaining("clips = 0");
        assertThatThrownBy(() -> new MovingSquaresTask(0, 8, 1, 2)).hasMessageContaining("frames = 0");
        try (MemoryScope scope = MemoryScope.open("bad")) {
            Weights w = VideoDiT.initialise(tiny(), 5, Init.ADALN_ZERO, scope);
            assertThatThrownBy(() -> new DitTrainer(w, ADAM, 0)).hasMessageContaining("clipNorm = 0");
        }
    }
}
