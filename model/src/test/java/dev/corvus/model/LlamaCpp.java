package dev.corvus.model;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Assumptions;

/**
 * llama.cpp, the oracle of the GGUF tests: where its source and binaries are, and how to run them.
 *
 * <p>The directory is the system property {@code corvus.llamaCpp}, else the environment variable
 * {@code CORVUS_LLAMA_CPP}, else the one named in {@code llama.cpp-src.ok} of the Corvus cache
 * ({@code $CORVUS_CACHE}, else {@code ~/.cache/corvus}), which {@code scripts/llama-cpp.sh} writes
 * when it builds it. When it is missing, tests that need it are skipped, except under {@code CI=true},
 * where they fail: CI must never pass without the oracle.
 */
public final class LlamaCpp {
    private static final long TIMEOUT_SECONDS = 600;

    private final Path dir;

    private LlamaCpp(Path dir) {
        this.dir = dir;
    }

    private static boolean toolChecked;

    /**
     * The oracle, or a skipped test (a failed one under CI=true) naming scripts/llama-cpp.sh. Once
     * per JVM it runs that script, which only compiles corvus-logits when its source is newer
     * (seconds) once llama.cpp itself is built.
     */
    public static synchronized LlamaCpp require() throws IOException {
        Path dir = locate();
        if (dir == null || !Files.isExecutable(dir.resolve("build/bin/llama-quantize"))) {
            unavailable(dir == null
                    ? "llama.cpp (the oracle) was not found (looked at -Dcorvus.llamaCpp, CORVUS_LLAMA_CPP and " + cacheDir().resolve("llama.cpp-src.ok")
                            + "); run scripts/llama-cpp.sh, or point one of them at a llama.cpp source tree with build/bin"
                    : "llama.cpp (the oracle) in " + dir + " is not built (no build/bin/llama-quantize); run scripts/llama-cpp.sh");
        }
        if (!toolChecked) {
            run(List.of(repoRoot().resolve("scripts/llama-cpp.sh").toString()));
            toolChecked = true;
        }
        return new LlamaCpp(dir);
    }

    /**
     * The llama.cpp source tree alone (its models/ggml-vocab-*.gguf, .inp/.out vectors, chat
     * templates and tests), for tests that need no binaries: skipped, or failed under CI=true,
     * as {@link #require} is.
     */
    public static Path source() {
        Path dir = locate();
        if (dir == null || !Files.isDirectory(dir.resolve("models"))) {
            unavailable(dir == null
                    ? "the llama.cpp source was not found (looked at -Dcorvus.llamaCpp, CORVUS_LLAMA_CPP and " + cacheDir().resolve("llama.cpp-src.ok")
                            + "); run scripts/llama-cpp.sh to fetch it"
                    : "the llama.cpp source in " + dir + " has no models/; run scripts/llama-cpp.sh to fetch it");
        }
        return dir;
    }

    /** models/ggml-vocab-NAME.gguf of the source, which must exist once the source is there. */
    public static Path vocab(String name) {
        return sourceFile("models/ggml-vocab-" + name + ".gguf");
    }

    /** models/templates/NAME (a real model's chat template) of the source. */
    public static Path template(String name) {
        return sourceFile("models/templates/" + name);
    }

    /** A file of the source tree, which must exist once the source is there. */
    public static Path sourceFile(String relative) {
        Path file = source().resolve(relative);
        if (!Files.isRegularFile(file)) fail("llama.cpp's " + file + " is missing (the tests expect the tree scripts/llama-cpp.sh fetches)");
        return file;
    }

    /** The directory the notes above describe, or null when none is named or it does not exist. */
    public static Path locate() {
        String named = System.getProperty("corvus.llamaCpp");
        if (named == null || named.isBlank()) named = System.getenv("CORVUS_LLAMA_CPP");
        if (named == null || named.isBlank()) {
            Path marker = cacheDir().resolve("llama.cpp-src.ok");
            try {
                named = Files.isRegularFile(marker) ? Files.readString(marker).strip() : null;
            } catch (IOException e) {
                named = null;
            }
        }
        if (named == null || named.isBlank()) return null;
        Path dir = Path.of(named);
        return Files.isDirectory(dir) ? dir : null;
    }

    static Path cacheDir() {
        String cache = System.getenv("CORVUS_CACHE");
        return cache != null && !cache.isBlank() ? Path.of(cache) : Path.of(System.getProperty("user.home"), ".cache", "corvus");
    }

    /** Skips the test, or fails it under CI=true. */
    static void unavailable(String why) {
        if ("true".equalsIgnoreCase(System.getenv("CI"))) fail("CI=true and " + why);
        Assumptions.abort(why);
    }

    public Path dir() {
        return dir;
    }

    /** A tool in build/bin, checked to exist. */
    public Path binary(String name) {
        Path p = dir.resolve("build/bin").resolve(name);
        if (!Files.isExecutable(p)) unavailable(p + " is missing; run scripts/llama-cpp.sh (it builds " + name + ")");
        return p;
    }

    /** The Corvus repository root (tests run in a module directory below it). */
    public static Path repoRoot() {
        Path p = Path.of("").toAbsolutePath();
        for (Path q = p; q != null; q = q.getParent()) {
            if (Files.isRegularFile(q.resolve("scripts/llama-cpp.sh"))) return q;
        }
        throw new IllegalStateException("no scripts/llama-cpp.sh above " + p + "; run the tests from the Corvus checkout");
    }

    /**
     * llama.cpp's teacher-forced logits [T][vocab] for {@code tokens} in {@code model}, from one
     * batch (corvus-logits, model/src/test/c/corvus_logits.c).
     */
    public float[][] logits(Path model, int[] tokens) throws IOException {
        Path out = Files.createTempFile("corvus-logits", ".f32");
        try {
            run(List.of(binary("corvus-logits").toString(), "-m", model.toString(), "-t", join(tokens), "-o", out.toString()));
            return readRows(out, tokens.length);
        } finally {
            Files.deleteIfExists(out);
        }
    }

    /** A little-endian float32 file of {@code rows} equal rows. */
    public static float[][] readRows(Path file, int rows) throws IOException {
        ByteBuffer bytes = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        int n = bytes.remaining() / Float.BYTES;
        if (n == 0 || n % rows != 0) throw new IllegalStateException(file + " holds " + n + " floats, not " + rows + " equal rows");
        int width = n / rows;
        float[][] out = new float[rows][width];
        for (int i = 0; i < rows; i++) {
            bytes.position(i * width * Float.BYTES);
            bytes.asFloatBuffer().get(out[i]);
        }
        return out;
    }

    /** The token ids llama.cpp's tokenizer gives {@code text} in {@code model}, BOS included when the vocabulary adds it. */
    public int[] tokenize(Path model, Path text) throws IOException {
        String out = run(List.of(binary("corvus-logits").toString(), "-m", model.toString(), "-p", text.toString())).strip();
        return out.isEmpty() ? new int[0] : Arrays.stream(out.split(",")).mapToInt(Integer::parseInt).toArray();
    }

    /** Runs a command to completion and returns its stdout; fails with its stderr when it exits non-zero. */
    public static String run(List<String> command) throws IOException {
        return run(command, false);
    }

    /** As {@link #run(List)}; with {@code mergeStderr} the result is stdout and stderr interleaved. */
    public static String run(List<String> command, boolean mergeStderr) throws IOException {
        Path err = Files.createTempFile("llama-cpp", ".err");
        try {
            ProcessBuilder pb = new ProcessBuilder(command);
            if (mergeStderr) pb.redirectErrorStream(true);
            else pb.redirectError(err.toFile());
            Path located = locate();
            if (located != null) pb.environment().put("CORVUS_LLAMA_CPP", located.toString()); // the scripts use the same oracle
            Process p = pb.start();
            p.getOutputStream().close();
            byte[] stdout = p.getInputStream().readAllBytes();
            if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException("timed out after " + TIMEOUT_SECONDS + " s: " + String.join(" ", command));
            }
            if (p.exitValue() != 0) {
                String stderr = mergeStderr ? new String(stdout, StandardCharsets.UTF_8) : Files.readString(err);
                throw new IllegalStateException("exit " + p.exitValue() + " from " + String.join(" ", command) + ":\n"
                        + stderr.substring(Math.max(0, stderr.length() - 4000)));
            }
            return new String(stdout, StandardCharsets.UTF_8);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted: " + String.join(" ", command), e);
        } finally {
            Files.deleteIfExists(err);
        }
    }

    static String join(int[] tokens) {
        return Arrays.stream(tokens).mapToObj(Integer::toString).collect(Collectors.joining(","));
    }

    /**
     * The GGUF conformance set (scripts/conformance-models.sh, which generates it on first use,
     * about a minute): its directory and manifest rows.
     */
    public record ConformanceSet(Path dir, List<Entry> entries) {
        /**
         * @param tokens              the sequence the test runs (BOS, then ids across the vocabulary)
         * @param dequantisedLogits   for a quantised file, llama.cpp's logits [tokens][vocab] (float32)
         *                            with its weights dequantised to F32; null otherwise
         */
        public record Entry(String model, String architecture, String vocab, String variant, Path file, int[] tokens, Path dequantisedLogits) {}

        public Entry entry(String model, String variant) {
            return entries.stream().filter(e -> e.model.equals(model) && e.variant.equals(variant)).findFirst()
                    .orElseThrow(() -> new IllegalStateException("the conformance set in " + dir + " has no " + model + " " + variant
                            + " (scripts/conformance_models.py's VARIANTS table)"));
        }
    }

    private static ConformanceSet conformance;

    /** The conformance set, generated when missing (needs this oracle and python3 with numpy). */
    public synchronized ConformanceSet conformanceSet() throws IOException {
        if (conformance != null) return conformance;
        Path script = repoRoot().resolve("scripts/conformance-models.sh");
        Path dir = Path.of(run(List.of(script.toString())).strip());
        List<ConformanceSet.Entry> entries = new ArrayList<>();
        List<String> lines = Files.readAllLines(dir.resolve("manifest.tsv"));
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.split("\t");
            int[] tokens = Arrays.stream(f[5].split(",")).mapToInt(Integer::parseInt).toArray();
            entries.add(new ConformanceSet.Entry(f[0], f[1], f[2], f[3], dir.resolve(f[4]), tokens, f[6].equals("-") ? null : dir.resolve(f[6])));
        }
        return conformance = new ConformanceSet(dir, List.copyOf(entries));
    }
}
