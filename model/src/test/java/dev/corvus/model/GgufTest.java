package dev.corvus.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.model.gguf.GgmlType;
import dev.corvus.model.gguf.GgufArray;
import dev.corvus.model.gguf.GgufReader;
import dev.corvus.model.gguf.GgufValueType;
import dev.corvus.model.gguf.GgufWriter;
import dev.corvus.model.gguf.LlamaGguf;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class GgufTest {
    @TempDir
    Path dir;

    /** A model whose matrices Q8_0 can hold (every "in" size a multiple of 32), with GQA. */
    private Checkpoint source(boolean shared) throws IOException {
        TestModels.Llama2c m = TestModels.llama2c(11, 64, 96, 2, 4, 2, TestModels.vocabSize(), 16, shared);
        Path sub = Files.createDirectories(dir.resolve(shared ? "shared" : "separate"));
        Files.write(sub.resolve("tokenizer.bin"), TestModels.tokenizerBin());
        return Checkpoints.load(m.write(sub.resolve("model.bin")));
    }

    private static List<Tensor> all(LlamaWeights w) {
        List<Tensor> out = new ArrayList<>(List.of(w.tokenEmbedding()));
        for (LlamaWeights.Layer l : w.layers()) out.addAll(List.of(l.attentionNorm(), l.wq(), l.wk(), l.wv(), l.wo(), l.ffnNorm(), l.w1(), l.w2(), l.w3()));
        out.add(w.finalNorm());
        out.add(w.classifier());
        return out;
    }

    private static byte[] bytes(Tensor t) {
        return t.segment().asSlice(t.byteOffset(), t.dtype().byteSize(t.numel())).toArray(ValueLayout.JAVA_BYTE);
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void f32RoundTripIsExact(boolean shared) throws IOException {
        Path gguf = dir.resolve("model-f32.gguf");
        try (Checkpoint src = source(shared)) {
            GgufWriter.writeLlama(gguf, src.config(), src.weights(), src.tokenizer().orElseThrow(), DType.F32);
            try (Checkpoint back = Checkpoints.load(gguf)) {
                assertThat(back.format()).isEqualTo(Checkpoint.Format.GGUF);
                assertThat(back.config()).isEqualTo(src.config());
                List<Tensor> a = all(src.weights()), b = all(back.weights());
                for (int i = 0; i < a.size(); i++) {
                    assertThat(b.get(i).dtype()).isEqualTo(DType.F32);
                    assertThat(b.get(i).shape()).containsExactly(a.get(i).shape());
                    assertThat(bytes(b.get(i))).as("tensor %d", i).isEqualTo(bytes(a.get(i)));
                }
                assertThat(back.weights().classifier() == back.weights().tokenEmbedding()).isEqualTo(shared);
                Tokenizer t = back.tokenizer().orElseThrow(), s = src.tokenizer().orElseThrow();
                assertThat(t.vocabSize()).isEqualTo(s.vocabSize());
                for (int id = 0; id < s.vocabSize(); id++) {
                    assertThat(t.type(id)).isEqualTo(s.type(id));
                    assertThat(t.score(id)).isEqualTo(s.score(id));
                    assertThat(t.byteValue(id)).isEqualTo(s.byteValue(id));
                    if (s.type(id) == Tokenizer.TokenType.NORMAL) assertThat(t.piece(id)).isEqualTo(s.piece(id));
                }
                for (String text : new String[] {"hello abc", "é日ñ xx", ""}) {
                    assertThat(t.encode(text, true, true)).isEqualTo(s.encode(text, true, true));
                }
            }
        }
    }

    @Test
    void q8RoundTripEqualsOpsQuantizeBytewise() throws IOException {
        Path gguf = dir.resolve("model-q8.gguf");
        try (Checkpoint src = source(false)) {
            LlamaGguf.write(gguf, src.config(), src.weights(), src.tokenizer().orElseThrow(), DType.Q8_0);
            try (Checkpoint back = Checkpoints.load(gguf); MemoryScope scope = MemoryScope.open("expected")) {
                List<Tensor> a = all(src.weights()), b = all(back.weights());
                for (int i = 0; i < a.size(); i++) {
                    Tensor s = a.get(i), r = b.get(i);
                    assertThat(r.shape()).containsExactly(s.shape());
                    if (s.rank() == 1) {
                        assertThat(r.dtype()).isEqualTo(DType.F32);
                        assertThat(bytes(r)).isEqualTo(bytes(s));
                    } else {
                        assertThat(r.dtype()).isEqualTo(DType.Q8_0);
                        assertThat(bytes(r)).as("tensor %d", i).isEqualTo(bytes(Ops.quantize(s)));
                    }
                }
            }
            GgufReader reader = GgufReader.read(gguf, MemorySegment.ofArray(Files.readAllBytes(gguf)));
            assertThat(reader.getLong("general.file_type")).isEqualTo(7);
            assertThat(reader.tensor("blk.1.ffn_down.weight").orElseThrow().ne()).containsExactly(96, 64);
            assertThat(reader.tensor("blk.1.ffn_down.weight").orElseThrow().type()).isEqualTo(GgmlType.Q8_0);
            assertThat(reader.getStringArray("tokenizer.ggml.tokens")[1]).isEqualTo("<s>");
            assertThat(reader.getStringArray("tokenizer.ggml.tokens")[3 + 0x0A]).isEqualTo("<0x0A>");
            assertThat(reader.getStringArray("tokenizer.ggml.tokens")[TestModels.id(" ab")]).isEqualTo("\u2581ab");
        }
    }

    @Test
    void f16WeightsRoundTripAsConverted() throws IOException {
        Path gguf = dir.resolve("model-f16.gguf");
        try (Checkpoint src = source(true)) {
            LlamaGguf.write(gguf, src.config(), src.weights(), null, DType.F16);
            try (Checkpoint back = Checkpoints.load(gguf); MemoryScope scope = MemoryScope.open("expected")) {
                assertThat(back.tokenizer()).isEmpty();
                Tensor wq = back.weights().layers().get(1).wq();
                assertThat(wq.dtype()).isEqualTo(DType.F16);
                assertThat(bytes(wq)).isEqualTo(bytes(Ops.convert(src.weights().layers().get(1).wq(), DType.F16)));
            }
        }
    }

    @Test
    void metadataOfEveryTypeRoundTrips() throws IOException {
        Path file = dir.resolve("meta.gguf");
        GgufArray nested = new GgufArray(GgufValueType.ARRAY, new GgufArray[] {
                new GgufArray(GgufValueType.INT16, new long[] {-3, 4}), new GgufArray(GgufValueType.STRING, new String[] {"x"})});
        try (MemoryScope scope = MemoryScope.open("t")) {
            Tensor t = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
            Tensor ids = Tensor.ofInts(new int[] {7, 8, 9}, 3);
            new GgufWriter()
                    .put("u8", GgufValueType.UINT8, 200).put("i8", GgufValueType.INT8, -100)
                    .put("u16", GgufValueType.UINT16, 60000).put("i16", GgufValueType.INT16, -30000)
                    .putUInt32("u32", 4_000_000_000L).put("i32", GgufValueType.INT32, -2_000_000_000)
                    .put("u64", GgufValueType.UINT64, Long.MAX_VALUE).put("i64", GgufValueType.INT64, Long.MIN_VALUE)
                    .putFloat32("f32", 1.5f).put("f64", GgufValueType.FLOAT64, -2.25).putBool("bool", true)
                    .putString("str", "héllo ✓")
                    .putArray("floats", GgufValueType.FLOAT32, new float[] {1, -2})
                    .putArray("bools", GgufValueType.BOOL, new boolean[] {true, false})
                    .putArray("u8s", GgufValueType.UINT8, new int[] {255, 0})
                    .putArray("empty", GgufValueType.STRING, new String[0])
                    .put("nested", GgufValueType.ARRAY, nested)
                    .putUInt32("general.alignment", 64)
                    .addTensor("t", t).addTensor("ids", ids).addTensor("t16", t, DType.F16)
                    .write(file);
            byte[] raw = Files.readAllBytes(file);
            GgufReader r = GgufReader.read(file, scope.allocate(raw.length).copyFrom(MemorySegment.ofArray(raw)));
            assertThat(r.version()).isEqualTo(3);
            assertThat(r.alignment()).isEqualTo(64);
            assertThat(r.dataOffset() % 64).isZero();
            assertThat(r.getLong("u8")).isEqualTo(200);
            assertThat(r.getLong("i8")).isEqualTo(-100);
            assertThat(r.getLong("u16")).isEqualTo(60000);
            assertThat(r.getLong("i16")).isEqualTo(-30000);
            assertThat(r.getLong("u32")).isEqualTo(4_000_000_000L);
            assertThat(r.getLong("i32")).isEqualTo(-2_000_000_000);
            assertThat(r.getLong("u64")).isEqualTo(Long.MAX_VALUE);
            assertThat(r.getLong("i64")).isEqualTo(Long.MIN_VALUE);
            assertThat(r.getFloat("f32")).isEqualTo(1.5f);
            assertThat(r.metadata().get("f64")).isEqualTo(-2.25);
            assertThat(r.metadata().get("bool")).isEqualTo(true);
            assertThat(r.getString("str")).isEqualTo("héllo ✓");
            assertThat(r.getFloatArray("floats")).containsExactly(1, -2);
            assertThat((boolean[]) r.getArray("bools").values()).containsExactly(true, false);
            assertThat(r.getIntArray("u8s")).containsExactly(255, 0);
            assertThat(r.getStringArray("empty")).isEmpty();
            GgufArray[] inner = (GgufArray[]) r.getArray("nested").values();
            assertThat((long[]) inner[0].values()).containsExactly(-3, 4);
            assertThat((String[]) inner[1].values()).containsExactly("x");
            assertThat(r.type("u16")).isEqualTo(GgufValueType.UINT16);
            assertThat(r.tensors()).extracting(i -> i.name()).containsExactly("t", "ids", "t16");
            assertThat(r.tensor("t").orElseThrow().ne()).containsExactly(3, 2);
            assertThat(r.load("t", scope).toFloatArray()).containsExactly(1, 2, 3, 4, 5, 6);
            assertThat(r.load("t", scope).shape()).containsExactly(2, 3);
            assertThat(r.load("ids", scope).toIntArray()).containsExactly(7, 8, 9);
            assertThat(r.load("t16", scope).dtype()).isEqualTo(DType.F16);
            assertThat(r.load("t16", scope).toFloatArray()).containsExactly(1, 2, 3, 4, 5, 6);
            for (var info : r.tensors()) assertThat(info.offset() % 64).isZero();
            assertThatThrownBy(() -> r.getString("u8")).isInstanceOf(CheckpointException.class).hasMessageContaining("\"u8\" is UINT8, expected a string");
            assertThatThrownBy(() -> r.getLong("nope")).isInstanceOf(CheckpointException.class).hasMessageContaining("\"nope\" is missing");
        }
    }

    @Test
    void writerRejectsWhatGgufCannotHold() {
        try (MemoryScope scope = MemoryScope.open("t")) {
            Tensor odd = Tensor.zeros(DType.F32, 2, 33);
            assertThatThrownBy(() -> new GgufWriter().addTensor("w", odd, DType.Q8_0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("multiple of 32");
            assertThatThrownBy(() -> new GgufWriter().put("k", GgufValueType.UINT32, "text")).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> new GgufArray(GgufValueType.FLOAT32, new int[1])).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void llamaMetadataIsChecked() throws IOException {
        Path file = dir.resolve("other.gguf");
        try (MemoryScope scope = MemoryScope.open("t")) {
            new GgufWriter().putString("general.architecture", "gpt2").addTensor("t", Tensor.zeros(DType.F32, 4)).write(file);
        }
        assertThatThrownBy(() -> Checkpoints.load(file)).isInstanceOf(CheckpointException.class)
                .hasMessageStartingWith(file.toString()).hasMessageContaining("general.architecture is \"gpt2\"");
        try (Checkpoint src = source(true)) {
            Path gguf = dir.resolve("m.gguf");
            LlamaGguf.write(gguf, src.config(), src.weights(), null, DType.F32);
            // drop one layer tensor by renaming it in the header: same length, so offsets stay valid
            byte[] bytes = Files.readAllBytes(gguf);
            String s = new String(bytes, java.nio.charset.StandardCharsets.ISO_8859_1).replace("blk.1.ffn_up.weight", "blk.1.ffn_UP.weight");
            Path broken = Files.write(dir.resolve("broken.gguf"), s.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
            assertThatThrownBy(() -> Checkpoints.load(broken)).isInstanceOf(CheckpointException.class)
                    .hasMessageContaining("tensor \"blk.1.ffn_up.weight\" is missing");
        }
    }
}
