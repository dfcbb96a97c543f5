package dev.corvus.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A bounded fuzz run of the CLI: random option combinations (valid and not) and damaged model
 * files. Whatever happens: no stack trace, no hang, no crash; a failure exits non-zero with a
 * "corvus..." message, and convert leaves no partial file. Seeded (-Dcorvus.fuzz.seed=N to
 * replay). Every generate names a --model: a fuzz run must never start the default model's
 * download. Most cases take well under a second on the tiny model.
 */
class CliFuzzTest {
    private static final long SEED = Long.getLong("corvus.fuzz.seed", 20261203L);
    private static final Duration PER_RUN = Duration.ofSeconds(30);

    @TempDir
    static Path dir;

    static Path model, gguf;

    @BeforeAll
    static void files() throws IOException {
        model = TinyModel.write(Files.createDirectory(dir.resolve("model")), "tiny.bin", 3, false);
        gguf = dir.resolve("model").resolve("tiny.gguf");
        Corvus.Run c = Corvus.run("convert", model.toString(), gguf.toString(), "--dtype", "q8_0");
        assertThat(c.code()).as(c.err()).isZero();
    }

    private static Corvus.Run check(String what, String... args) {
        Corvus.Run r = assertTimeoutPreemptively(PER_RUN, () -> Corvus.run(args), () -> what + " did not finish in " + PER_RUN);
        String as = what + ": corvus " + String.join(" ", args) + "\nstderr:\n" + r.err();
        assertThat(r.err()).as(as).doesNotContain("\tat ").doesNotContain("Exception in thread").doesNotContain("looks like a bug");
        assertThat(r.code()).as(as).isIn(Main.OK, Main.FAILED, Main.USAGE);
        if (r.code() != Main.OK) assertThat(r.err()).as(as).startsWith("corvus");
        return r;
    }

    private static <T> T pick(SplittableRandom r, List<T> xs) {
        return xs.get(r.nextInt(xs.size()));
    }

    /** Adds {@code option} with a value from {@code values} about half the time. */
    private static void maybe(SplittableRandom r, List<String> args, String option, String... values) {
        if (r.nextBoolean()) return;
        args.add(option);
        if (values.length > 0) args.add(values[r.nextInt(values.length)]);
    }

    private static final String[] INTS = {"-1", "0", "1", "3", "2147483647", "-2147483648", "x", "", "1.5", "99999999999"};
    private static final String[] FLOATS = {"-1", "0", "0.5", "1", "1.5", "NaN", "Infinity", "-Infinity", "1e30", "abc", ""};

    private static List<String> randomArgs(SplittableRandom r, Path out) {
        List<String> a = new ArrayList<>();
        if (r.nextInt(4) == 0) a.addAll(List.of("--threads", pick(r, List.of("1", "2", "0", "-3", "40000", "x"))));
        String missing = dir.resolve("missing.bin").toString();
        List<String> models = List.of(model.toString(), gguf.toString(), missing, dir.toString(), "/dev/null");
        switch (r.nextInt(7)) {
            case 0, 1 -> {
                a.add("generate");
                if (r.nextBoolean()) a.add(pick(r, List.of("hello", "", "Once upon", "\u00e9\u4e2d\ud83d\ude00", "--", "\u0000x")));
                a.addAll(List.of("--model", pick(r, models))); // always a model: no download from a fuzz run
                a.addAll(List.of("--steps", pick(r, List.of("0", "1", "4", "-1", "x", "2147483647"))));
                if (a.contains("2147483647") || r.nextBoolean()) a.addAll(List.of("--ctx", pick(r, List.of("1", "8", "0", "-5", "100000", "q"))));
                maybe(r, a, "--temperature", FLOATS);
                maybe(r, a, "--top-p", FLOATS);
                maybe(r, a, "--seed", "1", "-1", "x");
                maybe(r, a, "--dtype", "f32", "q8_0", "int4", "");
                maybe(r, a, "--backend", "gpu", "", "SCALAR ");
                maybe(r, a, "--device", "cpu", "bogus", "");
                maybe(r, a, "--device-memory", "-1", "1G", "abc", "0");
                maybe(r, a, "--split-ratio", FLOATS);
                maybe(r, a, "--tokenizer", missing, dir.toString(), model.getParent().resolve("tokenizer.bin").toString(), model.toString());
                maybe(r, a, "--quiet");
            }
            case 2 -> {
                a.add("convert");
                if (r.nextInt(5) > 0) a.add(pick(r, models));
                if (r.nextInt(5) > 0) {
                    a.add(pick(r, List.of(out.resolve("o" + r.nextInt(3) + ".gguf").toString(), dir.toString(), dir.resolve("nowhere/o.gguf").toString(),
                            model.toString())));
                }
                maybe(r, a, "--dtype", "f32", "q8_0", "bf16", "x");
                maybe(r, a, "--force");
                maybe(r, a, "--tokenizer", missing, dir.toString());
            }
            case 3 -> {
                a.add("chunk");
                maybe(r, a, "--model", "vit", "transformer-materialised", "transformer-flash", "evoformer", "bogus", "");
                a.addAll(List.of("--n", pick(r, List.of("-1", "0", "1", "7", "16", "64", "x"))));
                maybe(r, a, "--budget", "-1", "0", "0.5", "1", "2", "8M", "1K", "x", "1.5", "NaN");
                // no --run: the search plus two executions take seconds, ChunkCommandTest covers it
            }
            case 4 -> {
                a.add("sp-demo");
                maybe(r, a, "--scheme", "ring", "startrail", "ulysses", "bogus");
                a.addAll(List.of("--ranks", pick(r, List.of("0", "1", "2", "3", "4", "-1"))));
                a.addAll(List.of("--n", pick(r, List.of("0", "1", "7", "16", "64"))));
                a.addAll(List.of("--heads", pick(r, List.of("0", "1", "2", "3", "4"))));
                a.addAll(List.of("--dim", pick(r, List.of("0", "1", "8"))));
                maybe(r, a, "--team-size", "0", "1", "2", "3");
                a.addAll(List.of("--iterations", pick(r, List.of("0", "1"))));
                maybe(r, a, "--warmup", "-1", "0", "1");
                maybe(r, a, "--backward");
                a.addAll(List.of("--timeout", pick(r, List.of("0", "5")))); // never the default 300 s
            }
            case 5 -> {
                a.add(pick(r, List.of("bench", "info", "help", "test", "jmh", "plan")));
                if (a.getLast().equals("bench")) a.addAll(List.of("--seconds", pick(r, List.of("-1", "0", "NaN", "x", "1e9"))));
                if (a.getLast().equals("plan")) a.addAll(List.of("--model", pick(r, List.of(missing, dir.toString(), "/dev/null"))));
                if (r.nextBoolean()) a.add(pick(r, List.of("--bogus", "extra", "-h", "--version", "convert")));
            }
            default -> {
                for (int i = r.nextInt(4); i >= 0; i--) a.add(pick(r, List.of("--", "-", "--=", "", "-x", "--help=3", "---", "@nofile", "\u00ff", "--steps", "info")));
            }
        }
        return a;
    }

    @Test
    void randomOptionCombinationsFailPlainlyOrSucceed() throws IOException {
        SplittableRandom r = new SplittableRandom(SEED);
        Path out = Files.createDirectory(dir.resolve("out-random"));
        int failures = 0, runs = 70;
        for (int i = 0; i < runs; i++) {
            List<String> args = randomArgs(r, out);
            Corvus.Run run = check("case " + i + " of seed " + SEED, args.toArray(String[]::new));
            if (run.code() != 0) failures++;
        }
        assertThat(failures).as("the fuzz run reaches failures at all").isGreaterThan(runs / 4);
        try (Stream<Path> left = Files.list(out)) {
            assertThat(left.map(p -> p.getFileName().toString())).as("convert debris").allMatch(n -> n.matches("o[0-2]\\.gguf"));
        }
    }

    /** Copies {@code source}'s bytes into {@code name} (with the tokenizer beside it), damaged by {@code damage}. */
    private static Path damaged(String name, Path source, java.util.function.UnaryOperator<byte[]> damage) throws IOException {
        Path d = Files.createDirectories(dir.resolve("damaged").resolve(name));
        Files.copy(model.getParent().resolve("tokenizer.bin"), d.resolve("tokenizer.bin"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        return Files.write(d.resolve(source.getFileName()), damage.apply(Files.readAllBytes(source)));
    }

    @Test
    void damagedModelFilesAreRefusedOrRunButNeverCrash() throws IOException {
        SplittableRandom r = new SplittableRandom(SEED ^ 0x5DEECE66DL);
        Path out = Files.createDirectory(dir.resolve("out-damaged"));
        int k = 0;
        for (Path source : List.of(model, gguf)) {
            byte[] bytes = Files.readAllBytes(source);
            for (int i = 0; i < 14; i++, k++) {
                boolean truncate = i % 2 == 0;
                // truncations anywhere; bit flips mostly in the header and metadata, where they change meaning
                int at = truncate ? r.nextInt(bytes.length) : r.nextInt(r.nextBoolean() ? Math.min(bytes.length, 4096) : bytes.length);
                int bits = 1 + r.nextInt(8);
                Path f = damaged("d" + k, source, b -> {
                    if (truncate) return java.util.Arrays.copyOf(b, at);
                    byte[] c = b.clone();
                    for (int j = 0; j < bits; j++) c[Math.min(c.length - 1, at + r.nextInt(16))] ^= (byte) (1 << r.nextInt(8));
                    return c;
                });
                String what = (truncate ? "truncated to " + at + " of " + bytes.length : bits + " bits flipped near " + at) + " in " + source.getFileName();
                Corvus.Run g = check(what, "generate", "hi", "--model", f.toString(), "--steps", "4");
                Path o = out.resolve("damaged-" + k + ".gguf");
                Corvus.Run c = check(what, "convert", f.toString(), o.toString(), "--dtype", r.nextBoolean() ? "f32" : "q8_0");
                if (truncate) {
                    assertThat(g.code()).as(what + ": generate; " + g.err()).isNotZero();
                    assertThat(c.code()).as(what + ": convert; " + c.err()).isNotZero();
                }
                if (c.code() != 0) assertThat(o).as(what + ": partial output").doesNotExist();
            }
        }
        // a damaged tokenizer beside an intact checkpoint
        Path d = Files.createDirectories(dir.resolve("damaged").resolve("tok"));
        Files.copy(model, d.resolve("tiny.bin"));
        byte[] tok = Files.readAllBytes(model.getParent().resolve("tokenizer.bin"));
        for (int cut : new int[] {0, 3, 4, 100, tok.length - 1}) {
            Files.write(d.resolve("tokenizer.bin"), java.util.Arrays.copyOf(tok, cut));
            Corvus.Run g = check("tokenizer.bin truncated to " + cut, "generate", "hi", "--model", d.resolve("tiny.bin").toString(), "--steps", "2");
            assertThat(g.code()).as("tokenizer.bin truncated to " + cut + "; " + g.err()).isNotZero();
        }
        try (Stream<Path> left = Files.list(out)) {
            assertThat(left.map(p -> p.getFileName().toString())).as("temporary files left by convert").noneMatch(n -> n.endsWith(".tmp"));
        }
    }
}
