package dev.corvus.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.model.CheckpointException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainerTest {
    final ToyRegression toy = new ToyRegression(320, 256, 7);
    @TempDir Path dir;

    Trainer.Options options(int microBatches, long checkpointEvery) {
        return new Trainer.Options(microBatches, 5.0, LearningRateSchedule.warmupCosine(0.05f, 0.005f, 10, 300),
                new AdamW.Options(0.9f, 0.99f, 1e-8f, 1e-4f), checkpointEvery, dir.resolve("run.ckpt"), 25);
    }

    Trainer<int[]> trainer(Parameters p, int batch, int microBatches, long checkpointEvery) {
        return new Trainer<>(p, toy.new Batches(batch, 99), toy::accumulate, toy::validation, options(microBatches, checkpointEvery));
    }

    @Test
    void theLossFallsOnALinearRegression() throws IOException {
        try (Parameters p = toy.parameters(1); Trainer<int[]> t = trainer(p, 8, 2, 0)) {
            List<Trainer.StepRecord> h = t.runUntil(300);
            double first = h.get(0).trainLoss(), last = h.get(h.size() - 1).trainLoss();
            assertThat(last).as("train loss from %s", first).isLessThan(first * 0.01);
            List<Double> validation = h.stream().map(Trainer.StepRecord::validationLoss).filter(v -> !v.isNaN()).toList();
            assertThat(validation).hasSize(12);
            assertThat(validation.get(validation.size() - 1)).isLessThan(validation.get(0) * 0.05);
            assertThat(h.get(0).learningRate()).isEqualTo(0.005f);
            assertThat(h.get(0).tokens()).isEqualTo(16);
        }
    }

    /** Four micro-batches of 2 are the same update as one batch of the same 8 samples: gradients summed, scaled once. */
    @Test
    void accumulatedMicroBatchesEqualOneLargeBatch() throws IOException {
        try (Parameters a = toy.parameters(1); Parameters b = toy.parameters(1);
                Trainer<int[]> ta = trainer(a, 8, 1, 0); Trainer<int[]> tb = trainer(b, 2, 4, 0)) {
            for (int s = 0; s < 20; s++) {
                Trainer.StepRecord ra = ta.step(), rb = tb.step();
                // the reported loss sums in double per micro-batch, so only its rounding differs; the gradients are the same floats
                assertThat(rb.trainLoss()).isCloseTo(ra.trainLoss(), org.assertj.core.data.Offset.offset(1e-12 * ra.trainLoss()));
                assertThat(rb.gradNorm()).isEqualTo(ra.gradNorm());
            }
            assertThat(b.get("w").value().toFloatArray()).containsExactly(a.get("w").value().toFloatArray());
        }
    }

    /** k steps, a checkpoint, a fresh process's worth of objects resumed from it, and the rest: bit for bit the uninterrupted run. */
    @Test
    void aResumedRunContinuesExactlyAsTheUninterruptedOne() throws IOException {
        Path ckpt = dir.resolve("run.ckpt");
        float[] w, b;
        List<Trainer.StepRecord> tail;
        try (Parameters p = toy.parameters(1); Trainer<int[]> t = trainer(p, 8, 3, 0)) {
            t.runUntil(40);
            t.save(ckpt);
            t.runUntil(90);
            w = p.get("w").value().toFloatArray();
            b = p.get("b").value().toFloatArray();
            tail = t.history().subList(40, 90);
        }
        try (Parameters p = toy.parameters(12345); Trainer<int[]> t = trainer(p, 8, 3, 0)) {
            t.resume(ckpt);
            assertThat(t.stepsDone()).isEqualTo(40);
            assertThat(t.optimizer().step()).isEqualTo(40);
            t.runUntil(90);
            assertThat(t.history()).containsExactlyElementsOf(tail);
            assertThat(p.get("w").value().toFloatArray()).containsExactly(w);
            assertThat(p.get("b").value().toFloatArray()).containsExactly(b);
        }
    }

    /** A run that dies mid-step (here its loss throws at step 15) leaves the step-10 checkpoint, and resuming from it gives the uninterrupted run. */
    @Test
    void aRunThatFailsMidStepLeavesItsLastCheckpointResumable() throws IOException {
        Path ckpt = dir.resolve("run.ckpt");
        float[] uninterrupted;
        try (Parameters p = toy.parameters(1); Trainer<int[]> t = trainer(p, 8, 1, 0)) {
            t.runUntil(30);
            uninterrupted = p.get("w").value().toFloatArray();
        }
        int[] calls = {0};
        Trainer.LossFunction<int[]> dying = (batch, params) -> {
            if (++calls[0] == 15) throw new IllegalStateException("rank 3 died");
            return toy.accumulate(batch, params);
        };
        try (Parameters p = toy.parameters(1);
                Trainer<int[]> t = new Trainer<>(p, toy.new Batches(8, 99), dying, toy::validation, options(1, 10))) {
            assertThatThrownBy(() -> t.runUntil(30)).hasMessageContaining("rank 3 died");
            assertThat(t.stepsDone()).isEqualTo(14);
        }
        try (Parameters p = toy.parameters(2); Trainer<int[]> t = trainer(p, 8, 1, 0)) {
            t.resume(ckpt);
            assertThat(t.stepsDone()).isEqualTo(10);
            t.runUntil(30);
            assertThat(p.get("w").value().toFloatArray()).containsExactly(uninterrupted);
        }
    }

    @Test
    void checkpointsAreWrittenEveryKStepsAndDamagedOnesAreRefusedByName() throws IOException {
        Path ckpt = dir.resolve("run.ckpt");
        try (Parameters p = toy.parameters(1); Trainer<int[]> t = trainer(p, 8, 1, 10)) {
            t.runUntil(9);
            assertThat(ckpt).doesNotExist();
            t.runUntil(10);
            assertThat(ckpt).exists();
            try (var files = Files.list(dir)) {
                assertThat(files.map(f -> f.getFileName().toString())).containsExactly("run.ckpt"); // no temporary left behind
            }
        }
        byte[] good = Files.readAllBytes(ckpt);

        Path truncated = dir.resolve("truncated.ckpt");
        Files.write(truncated, java.util.Arrays.copyOf(good, good.length - 20));
        assertRefused(truncated, "truncated.ckpt: truncated: " + (good.length - 20) + " bytes, but its header says " + good.length);

        Path corrupt = dir.resolve("corrupt.ckpt");
        byte[] flipped = good.clone();
        flipped[good.length / 2] ^= 0x10;
        Files.write(corrupt, flipped);
        assertRefused(corrupt, "corrupt.ckpt: corrupt: its CRC-32C");

        Path foreign = dir.resolve("foreign.ckpt");
        Files.writeString(foreign, "GGUF and some more bytes to be long enough");
        assertRefused(foreign, "foreign.ckpt: not a Corvus training checkpoint");

        Path tiny = dir.resolve("tiny.ckpt");
        Files.write(tiny, new byte[5]);
        assertRefused(tiny, "tiny.ckpt: truncated: 5 bytes");

        assertRefused(dir.resolve("missing.ckpt"), "missing.ckpt: no such training checkpoint");

        // the same file into a model of another shape, and under another schedule
        try (Parameters other = Parameters.empty(); dev.corvus.tensor.MemoryScope s = dev.corvus.tensor.MemoryScope.open()) {
            other.add("w", dev.corvus.tensor.Tensor.zeros(dev.corvus.tensor.DType.F32, 1, 12));
            other.add("b", dev.corvus.tensor.Tensor.zeros(dev.corvus.tensor.DType.F32, 1));
            try (AdamW adam = new AdamW(other, options(1, 0).adam())) {
                assertThatThrownBy(() -> TrainingCheckpoint.load(ckpt, other, adam)).isInstanceOf(CheckpointException.class)
                        .hasMessageContaining("run.ckpt").hasMessageContaining("\"w\" [1, 13]").hasMessageContaining("\"w\" [1, 12]");
            }
        }
        try (Parameters p = toy.parameters(1); Trainer<int[]> t = new Trainer<>(p, toy.new Batches(8, 99), toy::accumulate, null,
                new Trainer.Options(1, 5.0, LearningRateSchedule.constant(0.01f), options(1, 0).adam(), 0, null, 0))) {
            float[] before = p.get("w").value().toFloatArray();
            assertThatThrownBy(() -> t.resume(ckpt)).isInstanceOf(CheckpointException.class).hasMessageContaining("schedule");
            assertThat(p.get("w").value().toFloatArray()).as("a refused checkpoint changes nothing").containsExactly(before);
        }
    }

    void assertRefused(Path file, String message) {
        try (Parameters p = toy.parameters(1); Trainer<int[]> t = trainer(p, 8, 1, 0)) {
            assertThatThrownBy(() -> t.resume(file)).isInstanceOf(CheckpointException.class).hasMessageContaining(message);
        }
    }

    @Test
    void aFailedWriteLeavesTheOldFileAndNoTemporary() throws IOException {
        Path target = dir.resolve("keep.bin");
        Files.writeString(target, "old");
        assertThatThrownBy(() -> AtomicFile.write(target, out -> {
            out.write(ByteBuffer.wrap("half of the new".getBytes()));
            throw new IOException("disk full");
        })).hasMessageContaining("keep.bin").hasMessageContaining("disk full");
        assertThat(Files.readString(target)).isEqualTo("old");
        try (var files = Files.list(dir)) {
            assertThat(files).containsExactly(target);
        }
        AtomicFile.write(target, out -> out.write(ByteBuffer.wrap("new".getBytes())));
        assertThat(Files.readString(target)).isEqualTo("new");
        try (FileChannel ch = FileChannel.open(target, StandardOpenOption.READ)) {
            assertThat(ch.size()).isEqualTo(3);
        }
    }

    @Test
    void aNonFiniteGradientStopsTheStepWithoutUpdating() {
        try (Parameters p = toy.parameters(1);
                Trainer<int[]> t = new Trainer<>(p, toy.new Batches(8, 99), (batch, params) -> new CrossEntropy.Loss(Double.NaN, 8), null,
                        options(1, 0).withValidateEvery(0))) {
            float[] before = p.get("w").value().toFloatArray();
            assertThatThrownBy(t::step).hasMessageContaining("step 1").hasMessageContaining("not updated");
            assertThat(p.get("w").value().toFloatArray()).containsExactly(before);
        }
    }
}
