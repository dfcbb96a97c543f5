package dev.corvus.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.corvus.model.Checkpoint;
import dev.corvus.model.Checkpoints;
import dev.corvus.model.RealModel;
import dev.corvus.train.Parameter;
import dev.corvus.train.Parameters;
import dev.corvus.train.TokenDataset;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code corvus train --ranks P}: in-JVM sequence-parallel runs of stories15M on fortunes take the
 * one-device steps, so their held-out losses and exported models match {@code --ranks 1}, and
 * the bytes per rank they measure are the scheme's count; also with {@code --checkpoint-blocks}
 * and small gradient buckets.
 */
class TrainCommandSequenceParallelTest {
    private static final int SEQ_LEN = 64, STEPS = 2, HELD = 2;
    private static final Pattern HELD_OUT = Pattern.compile("held-out loss ([0-9.]+) -> ([0-9.]+) over " + HELD + " sequence");
    private static final Pattern BYTES = Pattern.compile("step [0-9]+/" + STEPS + ": loss .*, ([0-9.]+) MiB/rank \\(predicted ([0-9.]+)\\)");

    private static Corvus.Run train(Path model, Path text, Path out, String... parallel) {
        List<String> args = new ArrayList<>(List.of("train", "--model", model.toString(), "--data", text.toString(), "--seq-len", String.valueOf(SEQ_LEN),
                "--steps", String.valueOf(STEPS), "--lr", "1e-4", "--validation-sequences", String.valueOf(HELD), "--validate-every", "0", "--seed", "7",
                "--out", out.toString()));
        args.addAll(List.of(parallel));
        Corvus.Run r = Corvus.run(args.toArray(String[]::new));
        assertThat(r.code()).as(String.join(" ", parallel) + "\n" + r.err()).isZero();
        r.assertNoStackTrace();
        return r;
    }

    private static double[] heldOut(Corvus.Run r) {
        Matcher m = HELD_OUT.matcher(r.err());
        assertThat(m.find()).as(r.err()).isTrue();
        return new double[] {Double.parseDouble(m.group(1)), Double.parseDouble(m.group(2))};
    }

    @Test
    void everySchemeTrainsStories15MAsOneDeviceDoesAndSendsTheBytesItsCountSays(@TempDir Path dir) throws Exception {
        Path fortunes = TokenDataset.fortunesFile();
        Assumptions.assumeTrue(Files.isRegularFile(fortunes) || "true".equals(System.getenv("CI")), "run scripts/training-data.sh to fetch " + fortunes);
        var files = RealModel.files();
        String excerpt = Files.readString(fortunes);
        Path text = Files.writeString(dir.resolve("fortunes-excerpt.txt"), excerpt.substring(0, Math.min(excerpt.length(), 20_000)));
        Path single = dir.resolve("single.gguf");
        double[] oneDevice = heldOut(train(files.checkpoint(), text, single));
        // stories15M has 6 heads: Ulysses takes P = 2; StarTrail C = 2 needs C² | P, so P = 4
        // and ring with checkpointed blocks and 1 MiB gradient buckets (58 all-reduces, parameters cut across them)
        String[][] runs = {{"--ranks", "2", "--scheme", "ring"}, {"--ranks", "2", "--scheme", "ulysses"}, {"--ranks", "4", "--scheme", "startrail", "--team-size", "2"},
            {"--ranks", "2", "--scheme", "ring", "--checkpoint-blocks", "--bucket-mib", "1"}};
        for (int i = 0; i < runs.length; i++) {
            String[] parallel = runs[i];
            String label = String.join(" ", parallel);
            Path out = dir.resolve("p" + parallel[1] + parallel[3] + i + ".gguf");
            Corvus.Run r = train(files.checkpoint(), text, out, parallel);
            assertThat(r.err()).as(label).contains("on " + parallel[1] + " ranks, ");
            double[] losses = heldOut(r);
            // the held-out loss before is of the same weights by a sharded forward; after, of weights two identical steps moved
            assertThat(losses[0]).as(label + ": held-out loss before").isCloseTo(oneDevice[0], within(1e-4));
            assertThat(losses[1]).as(label + ": held-out loss after").isCloseTo(oneDevice[1], within(1e-4));
            Matcher bytes = BYTES.matcher(r.err());
            for (int step = 1; step <= STEPS; step++) {
                assertThat(bytes.find()).as(label + ": step " + step + " reports its bytes\n" + r.err()).isTrue();
                assertThat(bytes.group(1)).as(label + ": rank 0's measured bytes are its predicted ones").isEqualTo(bytes.group(2));
                assertThat(Double.parseDouble(bytes.group(1))).as(label).isPositive();
            }
            assertSameModel(files.checkpoint(), single, out, label);
        }
    }

    /**
     * The tensors of {@code actual} are those of {@code expected} where both moved from {@code start}:
     * AdamW's first steps move every weight by about the learning rate whatever its gradient, so a
     * tolerance on single weights could not tell a wrong gradient; the mean distance between the
     * two runs must instead be a small share of the mean distance each moved.
     */
    private static void assertSameModel(Path start, Path expected, Path actual, String label) throws Exception {
        try (Checkpoint s = Checkpoints.load(start); Checkpoint e = Checkpoints.load(expected); Checkpoint a = Checkpoints.load(actual);
                Parameters ps = Parameters.of(s.config(), s.weights()); Parameters pe = Parameters.of(e.config(), e.weights());
                Parameters pa = Parameters.of(a.config(), a.weights())) {
            assertThat(pa.list()).hasSameSizeAs(pe.list());
            for (int i = 0; i < pe.list().size(); i++) {
                Parameter pS = ps.list().get(i), pE = pe.list().get(i), pA = pa.list().get(i);
                assertThat(pA.name()).isEqualTo(pE.name());
                float[] w0 = pS.value().toFloatArray(), we = pE.value().toFloatArray(), wa = pA.value().toFloatArray();
                assertThat(wa).as(label + " " + pA.name()).hasSameSizeAs(we);
                double moved = 0, apart = 0;
                for (int j = 0; j < we.length; j++) {
                    moved += Math.abs(we[j] - w0[j]);
                    apart += Math.abs(wa[j] - we[j]);
                }
                assertThat(moved).as(label + " " + pA.name() + " moved").isPositive();
                assertThat(apart / moved).as(label + " " + pA.name() + ": mean distance to one device / mean step").isLessThan(1e-3);
            }
        }
    }
}
