package dev.corvus.model;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.RopeStyle;
import dev.corvus.tensor.Storage;
import dev.corvus.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Karpathy's llama2.c checkpoint, "version 0" (legacy) export: seven little-endian int32
 * (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len; a negative vocab_size
 * means the classifier is stored separately), then fp32 arrays:
 *
 * <pre>
 * token_embedding [vocab, dim]
 * rms_att [L, dim]   wq [L, dim, dim]   wk [L, kv_dim, dim]   wv [L, kv_dim, dim]   wo [L, dim, dim]
 * rms_ffn [L, dim]   w1 [L, hidden, dim]   w2 [L, dim, hidden]   w3 [L, hidden, dim]
 * rms_final [dim]    freq_cis_real, freq_cis_imag [seq_len, head_dim / 2] (legacy, skipped)
 * classifier [vocab, dim] (only when vocab_size was negative)
 * </pre>
 *
 * Matrices are row-major [out, in], exactly the layout {@code Ops.linear} takes, so every weight
 * is a zero-copy F32 view of the mapped file. RoPE rotates pairs (2i, 2i+1) with base 10000.
 */
public final class Llama2cCheckpoint {
    static final int HEADER_BYTES = 7 * 4;
    /** "ak42": the magic of llama2.c's newer (version 1, 2) exports. */
    static final int AK42_MAGIC = 0x616b3432;
    /** Any single size above this is taken for a corrupt header, not a model. */
    static final int MAX_SIZE = 1 << 24;

    private Llama2cCheckpoint() {}

    /** The sizes a header declares. */
    record Header(int dim, int hiddenDim, int layers, int heads, int kvHeads, int vocabSize, int seqLen, boolean shared) {
        int headDim() {
            return dim / heads;
        }

        int kvDim() {
            return kvHeads * headDim();
        }

        /** Floats of each array in file order; the classifier is last. Overflow is an ArithmeticException. */
        long[] arrayFloats() {
            long l = layers, d = dim, h = hiddenDim, kv = kvDim(), v = vocabSize;
            long dd = Math.multiplyExact(d, d), kvd = Math.multiplyExact(kv, d), hd = Math.multiplyExact(h, d);
            return new long[] {
                Math.multiplyExact(v, d),       // token embedding
                Math.multiplyExact(l, d),       // rms_att
                Math.multiplyExact(l, dd),      // wq
                Math.multiplyExact(l, kvd),     // wk
                Math.multiplyExact(l, kvd),     // wv
                Math.multiplyExact(l, dd),      // wo
                Math.multiplyExact(l, d),       // rms_ffn
                Math.multiplyExact(l, hd),      // w1
                Math.multiplyExact(l, hd),      // w2
                Math.multiplyExact(l, hd),      // w3
                d,                              // rms_final
                Math.multiplyExact((long) seqLen, headDim()), // freq_cis_real + freq_cis_imag, [seq_len, head_dim / 2] each
                shared ? 0 : Math.multiplyExact(v, d) // classifier
            };
        }

        long fileBytes() {
            long floats = 0;
            for (long n : arrayFloats()) floats = Math.addExact(floats, n);
            return Math.addExact(HEADER_BYTES, Math.multiplyExact(4, floats));
        }

        LlamaConfig config() {
            return new LlamaConfig(dim, hiddenDim, layers, heads, kvHeads, vocabSize, seqLen, 10000f, 1e-5f, RopeStyle.INTERLEAVED, shared);
        }
    }

    /** Reads and checks the header; the file's size must be exactly what it implies. */
    static Header readHeader(SegmentCursor in) throws CheckpointException {
        Path file = in.file();
        if (in.size() < HEADER_BYTES) {
            throw new CheckpointException(file, "truncated: a llama2.c checkpoint starts with a " + HEADER_BYTES
                    + "-byte header, but the file has only " + in.size() + " bytes");
        }
        int[] h = new int[7];
        for (int i = 0; i < 7; i++) h[i] = in.i32("header");
        if (h[0] == AK42_MAGIC) {
            throw new CheckpointException(file, "this is a llama2.c version " + h[1] + " export (magic \"ak42\"); Corvus reads the"
                    + " legacy version 0 format (export.py --version 0) and GGUF");
        }
        String[] names = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"};
        for (int i = 0; i < 7; i++) {
            long v = i == 5 ? Math.abs((long) h[i]) : h[i];
            if (v <= 0 || v > MAX_SIZE) {
                throw new CheckpointException(file, "not a llama2.c checkpoint: header " + names[i] + " = " + h[i]
                        + " (expected 1.." + MAX_SIZE + "); header " + headerString(h));
            }
        }
        int dim = h[0], heads = h[3], kvHeads = h[4];
        if (dim % heads != 0) throw new CheckpointException(file, "dim " + dim + " is not a multiple of n_heads " + heads + "; header " + headerString(h));
        if (heads % kvHeads != 0) throw new CheckpointException(file, "n_heads " + heads + " is not a multiple of n_kv_heads " + kvHeads + "; header " + headerString(h));
        if ((dim / heads) % 2 != 0) throw new CheckpointException(file, "head size " + dim / heads + " is odd (RoPE rotates pairs); header " + headerString(h));
        Header header = new Header(dim, h[1], h[2], heads, kvHeads, Math.abs(h[5]), h[6], h[5] > 0);
        long expected;
        try {
            expected = header.fileBytes();
        } catch (ArithmeticException e) {
            throw new CheckpointException(file, "not a llama2.c checkpoint: header " + headerString(h) + " implies more than 2^63 bytes");
        }
        if (in.size() != expected) {
            String what = in.size() < expected ? "truncated" : "trailing bytes";
            throw new CheckpointException(file, what + ": header " + headerString(h) + " implies " + expected
                    + " bytes, but the file has " + in.size());
        }
        return header;
    }

    private static String headerString(int[] h) {
        return "[dim=" + h[0] + ", hidden_dim=" + h[1] + ", n_layers=" + h[2] + ", n_heads=" + h[3] + ", n_kv_heads=" + h[4]
                + ", vocab_size=" + h[5] + ", seq_len=" + h[6] + "]";
    }

    /** The config a checkpoint declares, reading only its header. */
    public static LlamaConfig readConfig(Path file) throws IOException {
        try (MappedFile mapped = MappedFile.map(file)) {
            return readHeader(new SegmentCursor(file, mapped.segment())).config();
        }
    }

    /** Loads {@code file}; the returned checkpoint owns its memory (close it). */
    public static Checkpoint load(Path file) throws IOException {
        MappedFile mapped = MappedFile.map(file);
        MemoryScope scope = MemoryScope.detached("llama2.c " + file.getFileName());
        try {
            return load(mapped, scope, true);
        } catch (IOException | RuntimeException e) {
            scope.close();
            mapped.close();
            throw e;
        }
    }

    /** Loads {@code file} into the caller's scope; the mapping is released by the GC. */
    public static Checkpoint load(Path file, MemoryScope scope) throws IOException {
        return load(MappedFile.map(file, scope), scope, false);
    }

    static Checkpoint load(MappedFile mapped, MemoryScope scope, boolean owned) throws IOException {
        Path file = mapped.path();
        Header h = readHeader(new SegmentCursor(file, mapped.segment()));
        LlamaConfig c = h.config();
        Storage storage = Storage.wrap(mapped.segment(), scope);
        long[] offset = {HEADER_BYTES};
        int l = c.layers(), dim = c.dim(), hidden = c.hiddenDim(), kv = c.kvDim(), vocab = c.vocabSize();

        Tensor embedding = next(storage, offset, vocab, dim);
        Tensor rmsAtt = next(storage, offset, l, dim);
        Tensor wq = next(storage, offset, l, dim, dim);
        Tensor wk = next(storage, offset, l, kv, dim);
        Tensor wv = next(storage, offset, l, kv, dim);
        Tensor wo = next(storage, offset, l, dim, dim);
        Tensor rmsFfn = next(storage, offset, l, dim);
        Tensor w1 = next(storage, offset, l, hidden, dim);
        Tensor w2 = next(storage, offset, l, dim, hidden);
        Tensor w3 = next(storage, offset, l, hidden, dim);
        Tensor rmsFinal = next(storage, offset, dim);
        offset[0] += 4L * c.seqLen() * c.headDim(); // freq_cis_real and freq_cis_imag, [seq_len, head_dim / 2] each
        Tensor classifier = c.sharedClassifier() ? embedding : next(storage, offset, vocab, dim);

        List<LlamaWeights.Layer> layers = new ArrayList<>(l);
        for (int i = 0; i < l; i++) {
            layers.add(new LlamaWeights.Layer(rmsAtt.select(0, i), wq.select(0, i), wk.select(0, i), wv.select(0, i),
                    wo.select(0, i), rmsFfn.select(0, i), w1.select(0, i), w2.select(0, i), w3.select(0, i)));
        }
        LlamaWeights weights = new LlamaWeights(embedding, layers, rmsFinal, classifier);
        Tokenizer tokenizer = siblingTokenizer(file, vocab);
        return new Checkpoint(file, Checkpoint.Format.LLAMA2C, c, weights, tokenizer, owned ? scope : null, owned ? mapped : null);
    }

    /** The F32 array of {@code shape} at offset[0], which then moves past it. */
    private static Tensor next(Storage storage, long[] offset, int... shape) {
        Tensor t = Tensor.wrap(storage, DType.F32, offset[0], shape);
        offset[0] += 4 * t.numel();
        return t;
    }

    /** {@code tokenizer.bin} beside the checkpoint, as llama2.c's run expects it, or null. */
    private static Tokenizer siblingTokenizer(Path file, int vocabSize) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Path tokenizer = dir == null ? null : dir.resolve("tokenizer.bin");
        if (tokenizer == null || !Files.isRegularFile(tokenizer)) return null;
        return Tokenizer.loadLlama2c(tokenizer, vocabSize);
    }
}
