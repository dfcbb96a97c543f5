package dev.corvus.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.RopeStyle;
import dev.corvus.tensor.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class Llama2cCheckpointTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void loadsEveryTensorAsAZeroCopyViewInFileOrder(boolean shared) throws IOException {
        TestModels.Llama2c m = TestModels.llama2c(7, 8, 12, 2, 4, 2, 11, 5, shared);
        Path file = m.write(dir.resolve("tiny.bin"));
        try (Checkpoint ckpt = Checkpoints.load(file)) {
            assertThat(ckpt.format()).isEqualTo(Checkpoint.Format.LLAMA2C);
            assertThat(ckpt.config()).isEqualTo(new LlamaConfig(8, 12, 2, 4, 2, 11, 5, 10000f, 1e-5f, RopeStyle.INTERLEAVED, shared));
            assertThat(ckpt.tokenizer()).isEmpty();
            LlamaWeights w = ckpt.weights();
            long[] s = m.starts();
            int d = 8, h = 12, kv = m.kvDim();
            check(w.tokenEmbedding(), m.slice(s[0], 11 * d), 11, d);
            for (int l = 0; l < 2; l++) {
                LlamaWeights.Layer layer = w.layers().get(l);
                check(layer.attentionNorm(), m.slice(s[1] + l * d, d), d);
                check(layer.wq(), m.slice(s[2] + l * d * d, d * d), d, d);
                check(layer.wk(), m.slice(s[3] + l * kv * d, kv * d), kv, d);
                check(layer.wv(), m.slice(s[4] + l * kv * d, kv * d), kv, d);
                check(layer.wo(), m.slice(s[5] + l * d * d, d * d), d, d);
                check(layer.ffnNorm(), m.slice(s[6] + l * d, d), d);
                check(layer.w1(), m.slice(s[7] + l * h * d, h * d), h, d);
                check(layer.w2(), m.slice(s[8] + l * d * h, d * h), d, h);
                check(layer.w3(), m.slice(s[9] + l * h * d, h * d), h, d);
            }
            check(w.finalNorm(), m.slice(s[10], d), d);
            if (shared) {
                assertThat(w.classifier()).isSameAs(w.tokenEmbedding());
            } else {
                check(w.classifier(), m.slice(s[12], 11 * d), 11, d);
            }
            // zero-copy: every weight shares one storage, the mapped file
            assertThat(w.layers().get(1).w3().storage()).isSameAs(w.tokenEmbedding().storage());
        }
    }

    private static void check(Tensor t, float[] expected, int... shape) {
        assertThat(t.dtype()).isEqualTo(DType.F32);
        assertThat(t.shape()).containsExactly(shape);
        assertThat(t.isContiguous()).isTrue();
        assertThat(t.toFloatArray()).containsExactly(expected);
    }

    @Test
    void closingTheCheckpointFreesTheWeights() throws IOException {
        Path file = TestModels.llama2c(1, 8, 8, 1, 2, 2, 4, 3, true).write(dir.resolve("m.bin"));
        Tensor wq;
        try (Checkpoint ckpt = Checkpoints.load(file)) {
            wq = ckpt.weights().layers().get(0).wq();
            assertThat(wq.get(0, 0)).isFinite();
        }
        assertThatThrownBy(() -> wq.get(0, 0)).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
    }

    @Test
    void loadsIntoTheCallersScope() throws IOException {
        TestModels.Llama2c m = TestModels.llama2c(2, 8, 8, 1, 2, 1, 4, 3, false);
        Path file = m.write(dir.resolve("m.bin"));
        Tensor embedding;
        try (MemoryScope scope = MemoryScope.detached("weights")) {
            Checkpoint ckpt = Checkpoints.load(file, scope);
            embedding = ckpt.weights().tokenEmbedding();
            assertThat(embedding.scope()).isSameAs(scope);
            assertThat(embedding.toFloatArray()).containsExactly(m.slice(0, 32));
            ckpt.close(); // the caller owns the scope: nothing happens
            assertThat(embedding.get(0, 0)).isEqualTo(m.floats()[0]);
        }
        assertThatThrownBy(() -> embedding.get(0, 0)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void picksUpTheTokenizerBesideTheCheckpoint() throws IOException {
        Path file = TestModels.llama2c(3, 8, 8, 1, 2, 2, TestModels.vocabSize(), 3, true).write(dir.resolve("m.bin"));
        Files.write(dir.resolve("tokenizer.bin"), TestModels.tokenizerBin());
        try (Checkpoint ckpt = Checkpoints.load(file)) {
            assertThat(ckpt.tokenizer()).isPresent();
            assertThat(ckpt.tokenizer().get().encode("abc", true, false)).containsExactly(1, TestModels.id(" ab"), TestModels.id("c"));
        }
    }

    @Test
    void readsTheConfigFromTheHeaderAlone() throws IOException {
        Path file = TestModels.llama2c(4, 16, 32, 3, 4, 1, 9, 7, false).write(dir.resolve("m.bin"));
        LlamaConfig c = Llama2cCheckpoint.readConfig(file);
        assertThat(c.kvDim()).isEqualTo(4);
        assertThat(c.sharedClassifier()).isFalse();
        assertThat(c.vocabSize()).isEqualTo(9);
    }

    @Test
    void sizeMustMatchTheHeaderExactly() throws IOException {
        byte[] good = TestModels.llama2c(5, 8, 8, 1, 2, 2, 4, 3, true).bytes();
        Path shortFile = dir.resolve("short.bin");
        Files.write(shortFile, Arrays.copyOf(good, good.length - 1));
        assertThatThrownBy(() -> Checkpoints.load(shortFile)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining(shortFile.toString()).hasMessageContaining("truncated")
                .hasMessageContaining("implies " + good.length + " bytes, but the file has " + (good.length - 1));
        Path longFile = dir.resolve("long.bin");
        Files.write(longFile, Arrays.copyOf(good, good.length + 4));
        assertThatThrownBy(() -> Checkpoints.load(longFile)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining(longFile.toString()).hasMessageContaining("trailing bytes");
        Path header = dir.resolve("header.bin");
        Files.write(header, Arrays.copyOf(good, 20));
        assertThatThrownBy(() -> Checkpoints.load(header)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("truncated").hasMessageContaining("28-byte header").hasMessageContaining("20 bytes");
        Path empty = dir.resolve("empty.bin");
        Files.write(empty, new byte[0]);
        assertThatThrownBy(() -> Checkpoints.load(empty)).isInstanceOf(CheckpointException.class).hasMessageContaining("0 bytes");
        assertThatThrownBy(() -> Checkpoints.load(dir.resolve("missing.bin"))).isInstanceOf(CheckpointException.class).hasMessageContaining("no such file");
    }

    @Test
    void rejectsImpossibleHeadersBeforeMappingAnything() throws IOException {
        assertHeaderRejected(new int[] {288, 768, 6, 5, 5, 32000, 256}, "dim 288 is not a multiple of n_heads 5");
        assertHeaderRejected(new int[] {288, 768, 6, 6, 4, 32000, 256}, "n_heads 6 is not a multiple of n_kv_heads 4");
        assertHeaderRejected(new int[] {0, 768, 6, 6, 6, 32000, 256}, "dim = 0");
        assertHeaderRejected(new int[] {288, 768, -6, 6, 6, 32000, 256}, "n_layers = -6");
        assertHeaderRejected(new int[] {288, 768, 6, 6, 6, Integer.MIN_VALUE, 256}, "vocab_size = -2147483648");
        assertHeaderRejected(new int[] {1 << 24, 1 << 24, 1 << 24, 1, 1, 1 << 24, 1 << 24}, "implies more than 2^63 bytes");
        assertHeaderRejected(new int[] {288, 768, 6, 6, 6, 32000, 256}, "implies 60816028 bytes, but the file has 28");
        assertHeaderRejected(new int[] {0x616b3432, 1, 0, 0, 0, 0, 0}, "version 1 export");
    }

    private void assertHeaderRejected(int[] header, String message) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(28).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : header) b.putInt(v);
        Path file = Files.write(dir.resolve("bad.bin"), b.array());
        assertThatThrownBy(() -> Checkpoints.load(file)).isInstanceOf(CheckpointException.class)
                .hasMessageStartingWith(file.toString()).hasMessageContaining(message);
    }
}
