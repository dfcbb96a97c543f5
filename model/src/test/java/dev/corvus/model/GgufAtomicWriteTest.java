package dev.corvus.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.model.gguf.GgufReader;
import dev.corvus.model.gguf.GgufWriter;
import dev.corvus.model.gguf.LlamaGguf;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.DisabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

/** GGUF files appear whole or not at all: a failed write keeps the old file and leaves nothing beside it. */
class GgufAtomicWriteTest {
    @TempDir
    Path dir;

    private MemoryScope scope;

    @BeforeEach
    void open() {
        scope = MemoryScope.open("test");
    }

    @AfterEach
    void close() {
        scope.close();
    }

    private List<String> names() throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    private static GgufWriter writer(Tensor t) {
        return new GgufWriter().putString("general.architecture", "test").addTensor("w", t, DType.Q8_0);
    }

    @Test
    void aFailureWhileWritingTensorsKeepsTheOldFileAndLeavesNoPartialFile() throws IOException {
        Path file = dir.resolve("model.gguf");
        writer(Tensor.randn(1, 13, 64)).write(file);
        byte[] good = Files.readAllBytes(file);
        Tensor gone;
        try (MemoryScope s = MemoryScope.open("freed")) {
            gone = Tensor.randn(s, 2, 1f, 7, 32);
        }
        // the second tensor's memory is gone: the write fails after the header and the first tensor
        GgufWriter failing = writer(Tensor.randn(3, 13, 64)).addTensor("freed", gone, DType.F32);
        assertThatThrownBy(() -> failing.write(file)).isInstanceOf(IllegalStateException.class);
        assertThat(Files.readAllBytes(file)).as("the old file").isEqualTo(good);
        assertThat(names()).containsExactly("model.gguf");

        Path fresh = dir.resolve("fresh.gguf");
        assertThatThrownBy(() -> failing.write(fresh)).isInstanceOf(IllegalStateException.class);
        assertThat(fresh).doesNotExist();
        assertThat(names()).containsExactly("model.gguf");
    }

    @Test
    void aRefusingCheckSeesTheNewBytesAndKeepsTheOldFile() throws IOException {
        Path file = dir.resolve("model.gguf");
        writer(Tensor.randn(1, 2, 32)).write(file);
        byte[] good = Files.readAllBytes(file);
        List<Long> seen = new ArrayList<>();
        assertThatThrownBy(() -> writer(Tensor.randn(4, 9, 32)).write(file, written -> {
            seen.add(Files.size(written));
            assertThat(written.getParent()).isEqualTo(file.toAbsolutePath().getParent());
            try (MappedFile m = MappedFile.map(written)) {
                assertThat(GgufReader.read(written, m.segment()).tensors()).hasSize(1);
            }
            throw new IOException("refused by the check");
        })).hasMessage("refused by the check");
        assertThat(seen).hasSize(1).allSatisfy(size -> assertThat(size).isGreaterThan(good.length));
        assertThat(Files.readAllBytes(file)).isEqualTo(good);
        assertThat(names()).containsExactly("model.gguf");
    }

    @Test
    void aConfigGgufCannotExpressLeavesTheExistingFileAlone() throws IOException {
        try (MemoryScope weights = MemoryScope.detached("weights")) {
            LlamaConfig qwen3 = Decoders.config(Architecture.QWEN3);
            LlamaWeights w = Decoders.randomWeights(weights, qwen3, 1);
            Path file = dir.resolve("y.gguf");
            LlamaGguf.write(file, qwen3, w, null, DType.F32);
            byte[] good = Files.readAllBytes(file);
            LlamaConfig capped = new LlamaConfig(qwen3.dim(), qwen3.hiddenDim(), qwen3.layers(), qwen3.heads(), qwen3.kvHeads(), qwen3.vocabSize(),
                    qwen3.seqLen(), qwen3.ropeTheta(), qwen3.normEps(), qwen3.ropeStyle(), true, qwen3.architecture(), qwen3.headDim(),
                    qwen3.activation(), 1f, qwen3.ropeTheta(), 1f, 1f, qwen3.seqLen(), 0, qwen3.slidingLayers(), qwen3.attentionScale(), 7f, 0f, 1f);
            assertThatThrownBy(() -> LlamaGguf.write(file, capped, w, null, DType.F32)).hasMessageContaining("cannot express");
            assertThat(Files.readAllBytes(file)).isEqualTo(good);
            assertThat(names()).containsExactly("y.gguf");
        }
    }

    @Test
    void errorsNameTheFileAndWhatIsWrongWithIt() throws IOException {
        Path inMissingFolder = dir.resolve("no/such/folder/x.gguf");
        assertThatThrownBy(() -> writer(Tensor.randn(1, 1, 32)).write(inMissingFolder)).isInstanceOf(IOException.class)
                .hasMessageContaining(inMissingFolder.toString()).hasMessageContaining("does not exist");
        Path folder = Files.createDirectory(dir.resolve("folder.gguf"));
        assertThatThrownBy(() -> writer(Tensor.randn(1, 1, 32)).write(folder)).isInstanceOf(IOException.class)
                .hasMessageContaining(folder.toString()).hasMessageContaining("is a directory");
        Path notAFolder = Files.writeString(dir.resolve("plain"), "x").resolve("x.gguf");
        assertThatThrownBy(() -> writer(Tensor.randn(1, 1, 32)).write(notAFolder)).isInstanceOf(IOException.class)
                .hasMessageContaining(notAFolder.toString()).hasMessageContaining("is not a directory");
        assertThat(names()).containsExactly("folder.gguf", "plain");
    }

    @Test
    @DisabledOnOs(OS.WINDOWS)
    void aNewFileGetsTheUsualPermissionsAndAReplacedOneKeepsItsOwn() throws IOException {
        Path plain = Files.createFile(dir.resolve("plain"));
        Path file = dir.resolve("model.gguf");
        writer(Tensor.randn(1, 1, 32)).write(file);
        assertThat(Files.getPosixFilePermissions(file)).as("like any new file, not owner-only").isEqualTo(Files.getPosixFilePermissions(plain));
        Set<PosixFilePermission> groupRead = PosixFilePermissions.fromString("rw-r-----");
        Files.setPosixFilePermissions(file, groupRead);
        writer(Tensor.randn(2, 1, 32)).write(file);
        assertThat(Files.getPosixFilePermissions(file)).isEqualTo(groupRead);
    }

    @Test
    void progressCountsEveryByteWritten() throws IOException {
        Path file = dir.resolve("model.gguf");
        List<String> events = new ArrayList<>();
        long[] last = {-1}, total = {0};
        writer(Tensor.randn(1, 5, 64)).addTensor("b", Tensor.randn(2, 3, 7), DType.F32).progress(new Progress() {
            @Override
            public void start(String phase, long t) {
                events.add("start " + phase);
                total[0] = t;
            }

            @Override
            public void advance(long done) {
                assertThat(done).isGreaterThan(last[0]);
                last[0] = done;
            }

            @Override
            public void end() {
                events.add("end");
            }
        }).write(file);
        assertThat(events).containsExactly("start writing model.gguf", "end");
        assertThat(total[0]).isEqualTo(last[0]).isEqualTo(Files.size(file));
    }
}
