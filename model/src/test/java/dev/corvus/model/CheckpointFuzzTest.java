package dev.corvus.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import dev.corvus.model.gguf.GgufReader;
import dev.corvus.model.gguf.LlamaGguf;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Malformed files of every kind must end in a {@link CheckpointException} that names the file and
 * the problem: never another exception, never a crash. Mutations come from fixed seeds.
 */
class CheckpointFuzzTest {
    static final Path NAME = Path.of("fuzzed-model");
    static byte[] llama2c;
    static byte[] ggufF32;
    static byte[] ggufQ8;
    static byte[] tokenizerBin;
    static long ggufHeaderEnd;

    @TempDir
    static Path dir;

    @BeforeAll
    static void writeSources() throws IOException {
        TestModels.Llama2c m = TestModels.llama2c(3, 32, 64, 1, 2, 1, TestModels.vocabSize(), 8, false);
        llama2c = m.bytes();
        tokenizerBin = TestModels.tokenizerBin();
        Files.write(dir.resolve("tokenizer.bin"), tokenizerBin);
        try (Checkpoint src = Checkpoints.load(m.write(dir.resolve("model.bin")))) {
            LlamaGguf.write(dir.resolve("f32.gguf"), src.config(), src.weights(), src.tokenizer().orElseThrow(), DType.F32);
            LlamaGguf.write(dir.resolve("q8.gguf"), src.config(), src.weights(), src.tokenizer().orElseThrow(), DType.Q8_0);
        }
        ggufF32 = Files.readAllBytes(dir.resolve("f32.gguf"));
        ggufQ8 = Files.readAllBytes(dir.resolve("q8.gguf"));
        ggufHeaderEnd = GgufReader.read(NAME, MemorySegment.ofArray(ggufF32)).dataOffset();
    }

    /** Loads {@code bytes} as a model: it must load, or fail with a CheckpointException that explains itself. */
    static void loadModel(byte[] bytes, String mutation) {
        try (Arena arena = Arena.ofConfined()) {
            loadModel(arena.allocate(Math.max(1, bytes.length), 64).asSlice(0, bytes.length).copyFrom(MemorySegment.ofArray(bytes)), mutation);
        }
    }

    static void loadModel(MemorySegment bytes, String mutation) {
        try (MemoryScope scope = MemoryScope.detached("fuzz")) {
            Checkpoint c = Checkpoints.read(NAME, bytes, scope);
            // a mutation that still parses must give usable tensors
            Tensor e = c.weights().tokenEmbedding();
            e.get(e.size(0) - 1, e.size(1) - 1);
        } catch (CheckpointException e) {
            checkMessage(e, mutation);
        } catch (Throwable t) {
            fail(mutation + ": expected a CheckpointException, got " + t, t);
        }
    }

    static void loadTokenizer(byte[] bytes, String mutation) {
        try {
            Tokenizer t = Tokenizer.readLlama2c(NAME, bytes, TestModels.vocabSize());
            t.decode(t.encode("hello é日", true, true));
        } catch (CheckpointException e) {
            checkMessage(e, mutation);
        } catch (Throwable t) {
            fail(mutation + ": expected a CheckpointException, got " + t, t);
        }
    }

    static void checkMessage(CheckpointException e, String mutation) {
        assertThat(e.getMessage()).as(mutation).startsWith(NAME + ": ");
        assertThat(e.getMessage().length()).as(mutation).isGreaterThan(NAME.toString().length() + 12);
        assertThat(e.getMessage()).as(mutation + ": every problem should be caught by an explicit check").doesNotContain("malformed:");
        assertThat(e.file()).isEqualTo(NAME);
    }

    // ---------------------------------------------------------------- truncation

    @Test
    void everyTruncationOfALlama2cCheckpointIsReported() {
        MemorySegment whole = nativeCopy(llama2c);
        for (int n = 0; n < llama2c.length; n += n < 64 ? 1 : 37) loadModel(whole.asSlice(0, n), "llama2.c cut to " + n);
        loadModel(Arrays.copyOf(llama2c, llama2c.length - 1), "llama2.c one byte short");
        loadModel(Arrays.copyOf(llama2c, llama2c.length + 1), "llama2.c one byte long");
    }

    @Test
    void everyTruncationOfAGgufIsReported() throws CheckpointException {
        for (byte[] gguf : new byte[][] {ggufF32, ggufQ8}) {
            int step = gguf == ggufF32 ? 1 : 7;
            MemorySegment whole = nativeCopy(gguf);
            for (int n = 0; n < gguf.length; n += n < ggufHeaderEnd + 64 ? step : 101) {
                loadModel(whole.asSlice(0, n), "GGUF cut to " + n);
            }
            // one byte short of the last tensor (the file may end in alignment padding)
            var last = GgufReader.read(NAME, MemorySegment.ofArray(gguf)).tensor("output.weight").orElseThrow();
            int end = (int) (ggufHeaderEnd + last.offset() + last.bytes());
            assertThatThrownBy(() -> Checkpoints.read(NAME, nativeCopy(Arrays.copyOf(gguf, end - 1)), MemoryScope.detached("x")))
                    .isInstanceOf(CheckpointException.class).hasMessageContaining("truncated: tensor \"output.weight\"");
        }
    }

    @Test
    void everyTruncationOfATokenizerIsReported() {
        for (int n = 0; n < tokenizerBin.length; n++) loadTokenizer(Arrays.copyOf(tokenizerBin, n), "tokenizer cut to " + n);
        loadTokenizer(Arrays.copyOf(tokenizerBin, tokenizerBin.length + 3), "tokenizer with trailing bytes");
    }

    // ---------------------------------------------------------------- random corruption

    private static void mutate(byte[] source, long headerEnd, long seed, int count, Consumer<byte[]> load) {
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < count; i++) {
            byte[] b = source.clone();
            int flips = 1 + r.nextInt(3);
            for (int f = 0; f < flips; f++) {
                int at = r.nextInt((int) Math.min(headerEnd, b.length));
                b[at] = switch (r.nextInt(4)) {
                    case 0 -> (byte) (b[at] ^ (1 << r.nextInt(8)));
                    case 1 -> (byte) 0xFF;
                    case 2 -> 0;
                    default -> (byte) r.nextInt(256);
                };
            }
            load.accept(b);
        }
    }

    @Test
    void byteFlipsInHeadersAreReportedOrHarmless() {
        mutate(llama2c, 28, 1, 300, b -> loadModel(b, "llama2.c header flip"));
        mutate(ggufF32, ggufHeaderEnd, 2, 400, b -> loadModel(b, "GGUF header flip"));
        mutate(ggufQ8, 64 + 24 * 20, 3, 200, b -> loadModel(b, "GGUF early header flip"));
        mutate(tokenizerBin, tokenizerBin.length, 4, 300, b -> loadTokenizer(b, "tokenizer flip"));
    }

    @Test
    void wrongMagicAndAbsurdSizes() throws IOException {
        byte[] b = ggufF32.clone();
        b[3] = 'X';
        assertModelError(b, "not a llama2.c checkpoint"); // no GGUF magic: read as llama2.c, whose header makes no sense
        assertModelError("this is not a model at all, just text".getBytes(StandardCharsets.UTF_8), "not a llama2.c checkpoint");
        // also through a real file, mapped
        Path file = Files.write(dir.resolve("absurd.bin"), header(Integer.MAX_VALUE, 1, 1, 1, 1, 1, 1));
        assertThatThrownBy(() -> Checkpoints.load(file)).isInstanceOf(CheckpointException.class)
                .hasMessageStartingWith(file.toString()).hasMessageContaining("dim = 2147483647");
    }

    private static byte[] header(int... values) {
        ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : values) b.putInt(v);
        return b.array();
    }

    // ---------------------------------------------------------------- hand-made GGUF headers

    /** Little-endian GGUF bytes written by hand, to say exactly what is wrong. */
    static final class Raw {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final ByteBuffer s = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);

        Raw u32(long v) {
            out.write(s.clear().putInt((int) v).array(), 0, 4);
            return this;
        }

        Raw u64(long v) {
            out.write(s.clear().putLong(v).array(), 0, 8);
            return this;
        }

        Raw u8(int v) {
            out.write(v);
            return this;
        }

        Raw str(String v) {
            byte[] b = v.getBytes(StandardCharsets.UTF_8);
            u64(b.length);
            out.writeBytes(b);
            return this;
        }

        Raw head(long tensors, long kvs) {
            return u32(GgufReader.MAGIC).u32(3).u64(tensors).u64(kvs);
        }

        /** A tensor info: name, dims (ne order), type, offset. */
        Raw tensor(String name, long[] ne, int type, long offset) {
            str(name).u32(ne.length);
            for (long d : ne) u64(d);
            return u32(type).u64(offset);
        }

        Raw pad(int alignment) {
            while (out.size() % alignment != 0) out.write(0);
            return this;
        }

        Raw zeros(int n) {
            out.writeBytes(new byte[n]);
            return this;
        }

        byte[] bytes() {
            return out.toByteArray();
        }
    }

    static MemorySegment nativeCopy(byte[] bytes) {
        return Arena.ofAuto().allocate(Math.max(1, bytes.length), 64).asSlice(0, bytes.length).copyFrom(MemorySegment.ofArray(bytes));
    }

    static void assertModelError(byte[] bytes, String message) {
        assertThatThrownBy(() -> {
            try (MemoryScope scope = MemoryScope.detached("t")) {
                Checkpoints.read(NAME, nativeCopy(bytes), scope);
            }
        }).isInstanceOf(CheckpointException.class).hasMessageStartingWith(NAME + ": ").hasMessageContaining(message);
        loadModel(bytes, message); // and the same through the harness (message checks)
    }

    static void assertGgufError(byte[] bytes, String message) {
        assertThatThrownBy(() -> GgufReader.read(NAME, nativeCopy(bytes))).isInstanceOf(CheckpointException.class)
                .hasMessageStartingWith(NAME + ": ").hasMessageContaining(message);
    }

    @Test
    void malformedGgufHeadersNameTheProblem() {
        assertGgufError(new Raw().u32(GgufReader.MAGIC).u32(1).u64(0).u64(0).bytes(), "GGUF version 1");
        assertGgufError(new Raw().u32(GgufReader.MAGIC).u32(4).u64(0).u64(0).bytes(), "unsupported GGUF version 4");
        assertGgufError(new Raw().u32(GgufReader.MAGIC).u32(3).u64(0).bytes(), "truncated: metadata count");
        assertGgufError(new Raw().head(1L << 62, 0).bytes(), "tensor count 4611686018427387904 cannot fit");
        assertGgufError(new Raw().head(0, -1).bytes(), "metadata count 18446744073709551615 cannot fit");
        assertGgufError(new Raw().head(0, 1).str("k").u32(13).u32(0).bytes(), "type of metadata \"k\" at offset");
        assertGgufError(new Raw().head(0, 1).str("k").u32(99).u32(0).bytes(), "is 99, not a GGUF value type");
        assertGgufError(new Raw().head(0, 1).u64(1L << 62).zeros(16).bytes(), "key of metadata entry 0 at offset 24 claims 4611686018427387904 bytes");
        assertGgufError(new Raw().head(0, 1).str("k").u32(8).u64(100).zeros(20).bytes(), "value of \"k\" at offset 37 claims 100 bytes, but only 20 are left");
        assertGgufError(new Raw().head(0, 1).str("k").u32(9).u32(4).u64(1L << 40).zeros(8).bytes(), "array \"k\" at offset 41 claims 1099511627776 elements of UINT32");
        assertGgufError(new Raw().head(0, 1).str("k").u32(9).u32(8).u64(3).str("a").bytes(), "claims 3 elements of STRING, but only 9 bytes are left");
        assertGgufError(new Raw().head(0, 1).str("k").u32(9).u32(8).u64(2).str("a").u64(100).bytes(), "element 1 of \"k\" at offset 58 claims 100 bytes, but only 0 are left");
        assertGgufError(new Raw().head(0, 1).str("k").u32(9).u32(77).u64(0).bytes(), "element type of array \"k\"");
        Raw deep = new Raw().head(0, 1).str("k").u32(9);
        for (int i = 0; i < 10; i++) deep.u32(9).u64(1);
        assertGgufError(deep.zeros(64).bytes(), "nests arrays more than 8 deep");
        assertGgufError(new Raw().head(0, 1).str("b").u32(7).u8(2).bytes(), "bool value of \"b\" at offset 37 is 2");
        assertGgufError(new Raw().head(0, 2).str("k").u32(4).u32(1).str("k").u32(4).u32(2).bytes(), "metadata key \"k\" at offset 41 appears twice");
        assertGgufError(new Raw().head(0, 1).str("general.alignment").u32(4).u32(3).bytes(), "general.alignment is 3 (UINT32), expected a power of two");
        assertGgufError(new Raw().head(0, 1).str("general.alignment").u32(8).str("32").bytes(), "general.alignment is 32 (STRING)");
    }

    @Test
    void malformedTensorInfosNameTheTensor() {
        long[] m = {32, 4};
        assertGgufError(new Raw().head(1, 0).tensor("w", new long[0], 0, 0).pad(32).bytes(), "tensor \"w\" has 0 dimensions");
        assertGgufError(new Raw().head(1, 0).tensor("w", new long[] {1, 1, 1, 1, 1}, 0, 0).pad(32).bytes(), "tensor \"w\" has 5 dimensions");
        assertGgufError(new Raw().head(1, 0).tensor("w", new long[] {32, 0}, 0, 0).pad(32).bytes(), "tensor \"w\" has dimension 1 of size 0");
        assertGgufError(new Raw().head(1, 0).tensor("w", new long[] {32, -5}, 0, 0).pad(32).bytes(), "dimension 1 of size 18446744073709551611");
        assertGgufError(new Raw().head(1, 0).tensor("w", new long[] {1L << 40}, 0, 0).pad(32).bytes(), "dimension 0 of size 1099511627776");
        assertGgufError(new Raw().head(1, 0).tensor("w", m, 99, 0).pad(32).bytes(), "tensor \"w\" has unknown GGML type id 99");
        assertGgufError(new Raw().head(1, 0).tensor("w", m, 4, 0).pad(32).bytes(), "unknown GGML type id 4");
        assertGgufError(new Raw().head(1, 0).tensor("w", new long[] {33, 4}, 8, 0).pad(32).zeros(200).bytes(), "first dimension 33 that is not a multiple of its block size 32");
        assertGgufError(new Raw().head(1, 0).tensor("w", m, 0, 512).pad(32).zeros(512).bytes(), "truncated: tensor \"w\" (F32 [32, 4], 512 bytes) needs bytes [512, 1024) of the data section, which has 512");
        assertGgufError(new Raw().head(1, 0).tensor("w", m, 0, -32).pad(32).zeros(512).bytes(), "data offset 18446744073709551584");
        assertGgufError(new Raw().head(1, 0).tensor("w", m, 0, 4).pad(32).zeros(600).bytes(), "data offset 4, not a multiple of the alignment 32");
        assertGgufError(new Raw().head(2, 0).tensor("w", m, 0, 0).tensor("w", m, 0, 512).pad(32).zeros(1024).bytes(), "tensor \"w\" appears twice");
        assertGgufError(new Raw().head(1, 0).tensor("w", m, 0, 0).bytes(), "truncated: the data section should start at offset 96 but the file ends at 65");
        assertGgufError(new Raw().head(1, 0).tensor("w", m, 0, 0).pad(32).zeros(511).bytes(), "truncated: tensor \"w\"");
        // parses, but Corvus cannot compute with IQ4_XS weights (type 23: 136 bytes per 256)
        byte[] iq4 = new Raw().head(1, 0).tensor("w", new long[] {256, 2}, 23, 0).pad(32).zeros(272).bytes();
        try (MemoryScope scope = MemoryScope.detached("t")) {
            GgufReader r = GgufReader.read(NAME, nativeCopy(iq4));
            assertThatThrownBy(() -> r.load("w", scope)).isInstanceOf(CheckpointException.class).hasMessageContaining("tensor \"w\" is IQ4_XS; Corvus reads");
        } catch (CheckpointException e) {
            fail("IQ4_XS header should parse", e);
        }
    }

    @Test
    void llamaGgufWithTheWrongShapesIsReported() throws IOException {
        // a valid GGUF that says llama but whose token embedding disagrees with embedding_length
        byte[] b = new Raw().head(1, 6)
                .str("general.architecture").u32(8).str("llama")
                .str("llama.embedding_length").u32(4).u32(64)
                .str("llama.feed_forward_length").u32(4).u32(64)
                .str("llama.block_count").u32(4).u32(1)
                .str("llama.attention.head_count").u32(4).u32(2)
                .str("llama.context_length").u32(4).u32(16)
                .tensor("token_embd.weight", new long[] {32, 4}, 0, 0).pad(32).zeros(512).bytes();
        assertModelError(b, "tensor \"token_embd.weight\" has GGUF dims [32, 4], expected [64, vocab]");
        byte[] noHeads = new Raw().head(0, 2).str("general.architecture").u32(8).str("llama").str("llama.embedding_length").u32(4).u32(64).pad(32).bytes();
        assertModelError(noHeads, "metadata \"llama.feed_forward_length\" is missing");
        byte[] zeroHeads = new Raw().head(0, 5).str("general.architecture").u32(8).str("llama")
                .str("llama.embedding_length").u32(4).u32(64).str("llama.feed_forward_length").u32(4).u32(64)
                .str("llama.block_count").u32(4).u32(1).str("llama.attention.head_count").u32(4).u32(0).pad(32).bytes();
        assertModelError(zeroHeads, "metadata \"llama.attention.head_count\" is 0, expected 1..16777216");
    }

    @Test
    void aNanScaleInAQuantisedTensorNamesTheTensorAndBlock(@TempDir Path dir) throws IOException {
        LlamaConfig c = TinyLlama.config(4, 2);
        Path file = dir.resolve("q8.gguf");
        try (MemoryScope scope = MemoryScope.open("nan-scale")) {
            LlamaGguf.write(file, c, TinyLlama.randomWeights(scope, c, 3), null, DType.Q8_0);
        }
        byte[] bytes = Files.readAllBytes(file);
        long blockStart;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(bytes.length);
            MemorySegment.copy(MemorySegment.ofArray(bytes), 0, seg, 0, bytes.length);
            GgufReader r = GgufReader.read(file, seg);
            var info = r.tensor("blk.1.attn_k.weight").orElseThrow();
            blockStart = r.data(info).address() - seg.address();
        }
        int block = 5; // fp16 NaN (0x7E00) as the scale of block 5
        int at = Math.toIntExact(blockStart + block * DType.Q8_0.blockBytes());
        bytes[at] = 0x00;
        bytes[at + 1] = 0x7E;
        assertModelError(bytes, "tensor \"blk.1.attn_k.weight\" (Q8_0) has a NaN or infinite scale in block 5");
    }
}
