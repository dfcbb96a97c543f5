package dev.corvus.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.corvus.model.Checkpoint;
import dev.corvus.model.Checkpoints;
import dev.corvus.model.RealModel;
import dev.corvus.model.Tokenizer;
import dev.corvus.train.CrossEntropy;
import dev.corvus.train.DecoderGradients;
import dev.corvus.train.Parameters;
import dev.corvus.train.TokenDataset;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code corvus train}: option errors on a tiny random model (milliseconds), an interrupted and
 * resumed run that ends exactly where an uninterrupted one does, and a few steps of stories15M on
 * Debian's fortunes whose GGUF {@code corvus generate} loads and whose printed held-out losses
 * are those of the original and the exported model.
 */
class TrainCommandTest {
    /** Text of the tiny model's pieces in documents of a few lines, enough for some hundred 16-token sequences. */
    private static Path tinyText(Path dir) throws Exception {
        String[] words = {"hello", "ab", "a", "b", "c", "xx", "Once", "upon", "he", "ll", "o"};
        SplittableRandom r = new SplittableRandom(3);
        StringBuilder text = new StringBuilder();
        for (int doc = 0; doc < 120; doc++) {
            for (int w = 0, n = 8 + r.nextInt(20); w < n; w++) text.append(words[r.nextInt(words.length)]).append(w % 7 == 6 ? "\n" : " ");
            text.append("\n\n");
        }
        return Files.writeString(dir.resolve("tiny.txt"), text);
    }

    /** The tiny model and its text, and a command line that trains on them: {@code corvus train} with these options before {@code extra}. */
    private static List<String> tinyRun(Path dir, String... extra) throws Exception {
        Path model = Files.exists(dir.resolve("tiny.bin")) ? dir.resolve("tiny.bin") : TinyModel.write(dir, "tiny.bin", 11, false);
        Path text = Files.exists(dir.resolve("tiny.txt")) ? dir.resolve("tiny.txt") : tinyText(dir);
        List<String> args = new ArrayList<>(List.of("train", "--model", model.toString(), "--data", text.toString(), "--seq-len", "16", "--steps", "6",
                "--lr", "1e-3", "--warmup", "1", "--validation-sequences", "3", "--validate-every", "2", "--out", dir.resolve("out.gguf").toString()));
        args.addAll(List.of(extra));
        return args;
    }

    /** Runs {@code args}; an option given twice takes its last value (picocli refuses that by default), so a case can override {@link #tinyRun}'s. */
    private static Corvus.Run corvus(List<String> args) {
        return Corvus.run(cl -> cl.setOverwrittenOptionsAllowed(true), args.toArray(String[]::new));
    }

    @Test
    void optionErrorsNameTheOptionAndWhatWasExpected(@TempDir Path dir) throws Exception {
        String nowhere = dir.resolve("no/such/folder/x.gguf").toString(), missing = dir.resolve("missing.txt").toString();
        String[][] cases = {
            {"--seq-len", "0"}, {"--seq-len 0: expected a positive number of tokens"},
            {"--steps", "0"}, {"--steps 0: expected at least 1"},
            {"--lr", "-1"}, {"--lr -1.0: expected a positive learning rate"},
            {"--warmup", "6"}, {"--warmup 6: expected 0 to --steps - 1 = 5"},
            {"--min-lr", "1"}, {"--min-lr 1.0: expected 0 to --lr 0.001"},
            {"--clip", "-2"}, {"--clip -2.0: expected a gradient norm > 0, or 0 for no clipping"},
            {"--micro-batches", "0"}, {"--micro-batches 0: expected at least 1"},
            {"--validation-fraction", "0.7"}, {"--validation-fraction 0.7: expected a share of the sequences in (0, 0.5)"},
            {"--validation", missing, "--validation-fraction", "0.1"}, {"--validation and --validation-fraction: give one"},
            {"--validation-sequences", "0"}, {"--validation-sequences 0: expected at least 1"},
            {"--checkpoint-every", "2"}, {"--checkpoint-every 2 needs --checkpoint FILE"},
            {"--stop-after", "3"}, {"--stop-after 3 needs --checkpoint FILE"},
            {"--stop-after", "6", "--checkpoint", dir.resolve("c").toString()}, {"--stop-after 6: expected 1 to --steps - 1 = 5"},
            {"--data", missing}, {"--data " + missing + " does not exist"},
            {"--resume", missing}, {"--resume " + missing + " does not exist"},
            {"--out", nowhere}, {"--out " + nowhere + ": the folder"},
            {"--plot", dir.toString()}, {"--plot " + dir + " is a directory"},
            {"--out-type", "int4"}, {"--out-type int4: expected f32, f16, bf16 or q8_0"},
            {"--seq-len", "2000000"}, {"--data", "with --seq-len 2000000", "need at least"},
            {"--scheme", "tree"}, {"--scheme", "expected one of [ring, startrail, ulysses]", "'tree'"},
            {"--team-size", "2"}, {"--team-size 2 is StarTrail's; it needs --scheme startrail"},
            {"--ranks", "0"}, {"--ranks 0: expected 1 to 1024"},
            {"--ranks", "8", "--scheme", "startrail", "--team-size", "4"}, {"--team-size 4 with --ranks 8: expected C with C and C² dividing P"},
            {"--ranks", "4", "--seq-len", "20"}, {"--seq-len 20 with --ranks 4: expected a multiple of 2 x 4 = 8"},
            {"--ranks", "4", "--scheme", "ulysses"}, {"--scheme ulysses with --ranks 4: the model's 4 query and 2 key/value heads must both be multiples"},
            {"--ranks", "2", "--bucket-mib", "-1"}, {"--bucket-mib -1.0: expected 0 (one all-reduce per parameter) or a size in MiB"},
        };
        for (int i = 0; i < cases.length; i += 2) {
            Corvus.Run r = corvus(tinyRun(dir, cases[i])).failsPlainly(Main.USAGE);
            for (String expected : cases[i + 1]) assertThat(r.err()).as(String.join(" ", cases[i])).contains(expected);
        }
        Corvus.Run noOut = Corvus.run("train", "--data", missing, "--seq-len", "8", "--steps", "1", "--lr", "1e-3").failsPlainly(Main.USAGE);
        assertThat(noOut.err()).contains("Missing required option: '--out=GGUF'");
        assertThat(Files.exists(dir.resolve("out.gguf"))).as("no run wrote its model").isFalse();
    }

    @Test
    void aSequenceParallelRunOfTheTinyModelReportsItsRanksAndRefusesAFinishedCheckpointByName(@TempDir Path dir) throws Exception {
        Path ckpt = dir.resolve("run.ckpt");
        Corvus.Run r = corvus(tinyRun(dir, "--ranks", "2", "--steps", "2", "--checkpoint", ckpt.toString()));
        assertThat(r.code()).as(r.err()).isZero();
        r.assertNoStackTrace();
        assertThat(r.err()).contains("on 2 ranks, ring").contains("rank 0 of 2 (in-JVM threads) sends").containsPattern("step 2/2: loss .* MiB/rank \\(predicted ");
        // the error of every rank is reported as itself, not as "rank N failed"
        assertThat(corvus(tinyRun(dir, "--ranks", "2", "--steps", "2", "--resume", ckpt.toString())).failsPlainly(Main.USAGE).err())
                .contains("is at step 2, and --steps is 2: nothing is left to train").doesNotContain("rank 0 failed");
    }

    @Test
    void checkpointedBlocksAndSmallGradientBucketsTrainAsThePlainRunOnOneDeviceAndTwoRanks(@TempDir Path dir) throws Exception {
        java.util.regex.Pattern heldOut = java.util.regex.Pattern.compile("held-out loss ([0-9.]+) -> ([0-9.]+)");
        for (String ranks : new String[] {"1", "2"}) {
            String[] runs = {"plain", "checkpointed"};
            String[] losses = new String[2];
            for (int i = 0; i < 2; i++) {
                List<String> args = new ArrayList<>(List.of("--ranks", ranks, "--out", dir.resolve(runs[i] + ranks + ".gguf").toString()));
                // 0.001 MiB = 262 elements a bucket: the tiny model's gradients in many all-reduces, parameters cut across them
                if (i == 1) args.addAll(List.of("--checkpoint-blocks", "--bucket-mib", "0.001"));
                Corvus.Run r = corvus(tinyRun(dir, args.toArray(String[]::new)));
                assertThat(r.code()).as(r.err()).isZero();
                r.assertNoStackTrace();
                if (i == 1) assertThat(r.err()).contains(ranks.equals("1") ? "on one device, checkpointed blocks" : "on 2 ranks, ring, checkpointed blocks");
                if (ranks.equals("2")) {
                    java.util.regex.Matcher m = java.util.regex.Pattern.compile("step [0-9]+/6: loss .*, ([0-9.]+) MiB/rank \\(predicted ([0-9.]+)\\)").matcher(r.err());
                    for (int step = 1; step <= 6; step++) {
                        assertThat(m.find()).as(runs[i] + " step " + step + "\n" + r.err()).isTrue();
                        assertThat(m.group(1)).as(runs[i] + " step " + step + ": measured bytes are the predicted ones").isEqualTo(m.group(2));
                    }
                }
                java.util.regex.Matcher m = heldOut.matcher(r.err());
                assertThat(m.find()).as(r.err()).isTrue();
                losses[i] = m.group(1) + " -> " + m.group(2);
            }
            // the same steps: recomputed blocks and bucketed sums change no value beyond the last bits
            assertThat(losses[1]).as("--ranks " + ranks + " held-out losses, checkpointed vs plain").isEqualTo(losses[0]);
        }
    }

    @Test
    void aResumedRunEndsExactlyWhereAnUninterruptedOneDoes(@TempDir Path dir) throws Exception {
        // one file name in two folders: GGUF's general.name is the file's name
        Path whole = Files.createDirectory(dir.resolve("whole")).resolve("tuned.gguf"), resumed = Files.createDirectory(dir.resolve("resumed")).resolve("tuned.gguf");
        Path ckpt = dir.resolve("run.ckpt");
        Corvus.Run full = corvus(tinyRun(dir, "--out", whole.toString()));
        assertThat(full.code()).as(full.err()).isZero();
        full.assertNoStackTrace();
        assertThat(full.err()).contains("on one device").contains("step 0/6: validation loss").contains("step 6/6: loss").contains("step 6/6: validation loss")
                .containsPattern("held-out loss [0-9.]+ -> [0-9.]+ over 3 sequence\\(s\\) of 16 tokens; 6 step\\(s\\), 96 tokens at [0-9]+ tokens/s");

        Corvus.Run first = corvus(tinyRun(dir, "--stop-after", "3", "--checkpoint", ckpt.toString(), "--checkpoint-every", "2"));
        assertThat(first.code()).as(first.err()).isZero();
        assertThat(first.err()).contains("step 3/6: loss").doesNotContain("step 4/6").contains("step 3/6: validation loss");
        Corvus.Run second = corvus(tinyRun(dir, "--resume", ckpt.toString(), "--out", resumed.toString()));
        assertThat(second.code()).as(second.err()).isZero();
        assertThat(second.err()).contains("resumed " + ckpt + " at step 3 of 6").doesNotContain("step 3/6: loss").contains("step 6/6: loss");
        assertThat(stepLines(second.err(), 4)).as("steps 4 to 6, resumed").isEqualTo(stepLines(full.err(), 4));
        assertThat(stepLines(first.err(), 1)).as("steps 1 to 3, before the stop").isEqualTo(stepLines(full.err(), 1).subList(0, 3));
        assertThat(Files.mismatch(whole, resumed)).as("the resumed run's model is the uninterrupted one's, byte for byte").isEqualTo(-1L);
        assertThat(finalLoss(second)).isEqualTo(finalLoss(full));

        // a checkpoint of another run is refused by name, and one at the end has nothing left to do
        Corvus.Run otherSeed = corvus(tinyRun(dir, "--resume", ckpt.toString(), "--seed", "2")).failsPlainly(Main.FAILED);
        assertThat(otherSeed.err()).contains(ckpt.toString()).contains("data seed 1").contains("seed 2");
        Corvus.Run otherLr = corvus(tinyRun(dir, "--resume", ckpt.toString(), "--lr", "2e-3")).failsPlainly(Main.FAILED);
        assertThat(otherLr.err()).contains(ckpt.toString()).contains("schedule");
        Corvus.Run done = corvus(tinyRun(dir, "--checkpoint", ckpt.toString()));
        assertThat(done.code()).as(done.err()).isZero();
        assertThat(corvus(tinyRun(dir, "--resume", ckpt.toString())).failsPlainly(Main.USAGE).err()).contains("is at step 6, and --steps is 6: nothing is left to train");
    }

    @Test
    void aValidationFileIsHeldOutWholeAndEveryDataSequenceTrains(@TempDir Path dir) throws Exception {
        Path validation = Files.writeString(dir.resolve("held-out.txt"), "hello ab c xx Once upon a he ll o\n\n".repeat(12));
        Corvus.Run r = corvus(tinyRun(dir, "--validation", validation.toString(), "--steps", "2", "--validate-every", "0"));
        assertThat(r.code()).as(r.err()).isZero();
        Matcher m = Pattern.compile("tiny.txt: ([0-9]+) tokens, ([0-9]+) training sequences of 17 tokens; validation over 3 held-out sequence\\(s\\) \\("
                + Pattern.quote(validation.toString()) + "\\)").matcher(r.err());
        assertThat(m.find()).as(r.err()).isTrue();
        assertThat(Integer.parseInt(m.group(2))).as("no --data sequence held out").isEqualTo(Integer.parseInt(m.group(1)) / 17);
        assertThat(r.err()).contains("step 0/2: validation loss").contains("step 2/2: validation loss").doesNotContain("step 1/2: validation");

        Path tiny = Files.writeString(dir.resolve("tiny-held-out.txt"), "hello");
        assertThat(corvus(tinyRun(dir, "--validation", tiny.toString())).failsPlainly(Main.USAGE).err()).contains("--validation tiny-held-out.txt with --seq-len 16: ");
    }

    /** The per-step lines from step {@code from} on, without their tokens/s (a measurement, not a result). */
    private static List<String> stepLines(String err, int from) {
        return err.lines().filter(l -> l.matches("corvus: step +[0-9]+/[0-9]+: loss .*")).filter(l -> Integer.parseInt(l.replaceAll("corvus: step +([0-9]+)/.*", "$1")) >= from)
                .map(l -> l.replaceAll(", [0-9]+ tok/s", "")).toList();
    }

    private static String finalLoss(Corvus.Run r) {
        Matcher m = Pattern.compile("held-out loss [0-9.]+ -> ([0-9.]+)").matcher(r.err());
        assertThat(m.find()).as(r.err()).isTrue();
        return m.group(1);
    }

    @Test
    void aFewStepsOfStories15MOnFortunesWriteAGgufThatGenerateLoadsAndTheCurves(@TempDir Path dir) throws Exception {
        Path fortunes = TokenDataset.fortunesFile();
        Assumptions.assumeTrue(Files.isRegularFile(fortunes) || "true".equals(System.getenv("CI")), "run scripts/training-data.sh to fetch " + fortunes);
        var files = RealModel.files();
        // the first 30 000 characters: a few hundred 32-token sequences, tokenised in well under a second
        String excerpt = Files.readString(fortunes);
        Path text = Files.writeString(dir.resolve("fortunes-excerpt.txt"), excerpt.substring(0, Math.min(excerpt.length(), 30_000)));
        Path tuned = dir.resolve("tuned.gguf"), png = dir.resolve("curves.png");
        int seqLen = 32, held = 4;
        Corvus.Run r = Corvus.run("train", "--model", files.checkpoint().toString(), "--data", text.toString(), "--seq-len", String.valueOf(seqLen),
                "--steps", "3", "--lr", "1e-4", "--validation-sequences", String.valueOf(held), "--validate-every", "2", "--seed", "5",
                "--out", tuned.toString(), "--plot", png.toString());
        assertThat(r.code()).as(r.err()).isZero();
        r.assertNoStackTrace();
        assertThat(r.err()).contains("step 1/3: loss").contains("step 2/3: validation loss").contains("step 3/3: validation loss")
                .contains("wrote " + tuned + " (F32 matrices");

        // the losses printed are those of the original model and of the file written, on the same held-out sequences
        Matcher m = Pattern.compile("held-out loss ([0-9.]+) -> ([0-9.]+) over " + held + " sequence").matcher(r.err());
        assertThat(m.find()).as(r.err()).isTrue();
        Tokenizer tokenizer = Tokenizer.loadLlama2c(files.tokenizer());
        TokenDataset data = TokenDataset.fromFiles(List.of(text), tokenizer, seqLen, 0.02, 5);
        assertThat(heldOutLoss(files.checkpoint(), data, held)).isCloseTo(Double.parseDouble(m.group(1)), within(1e-4));
        assertThat(heldOutLoss(tuned, data, held)).isCloseTo(Double.parseDouble(m.group(2)), within(1e-4));

        Corvus.Run g = Corvus.run("generate", "Once upon a time", "--model", tuned.toString(), "--steps", "8");
        assertThat(g.code()).as(g.err()).isZero();
        assertThat(g.out()).startsWith("Once upon a time").hasSizeGreaterThan("Once upon a time".length());
        assertThat(g.err()).contains("tuned.gguf, F32 weights");

        BufferedImage image = ImageIO.read(png.toFile());
        assertThat(image).as("a PNG ImageIO reads").isNotNull();
        assertThat(image.getWidth()).isEqualTo(900);
        assertThat(image.getHeight()).isEqualTo(540);
    }

    private static double heldOutLoss(Path model, TokenDataset data, int sequences) throws Exception {
        try (Checkpoint c = Checkpoints.load(model); Parameters p = Parameters.of(c.config(), c.weights())) {
            DecoderGradients forward = new DecoderGradients(TrainCommand.CROSS_ENTROPY_ROWS);
            double sum = 0;
            long tokens = 0;
            for (int i = 0; i < sequences; i++) {
                CrossEntropy.Loss l = forward.loss(data.validation(i), p);
                sum += l.sum();
                tokens += l.tokens();
            }
            return sum / tokens;
        }
    }
}
