package dev.corvus.model.gguf;

import dev.corvus.model.Checkpoint;
import dev.corvus.model.CheckpointException;
import dev.corvus.model.LlamaConfig;
import dev.corvus.model.LlamaWeights;
import dev.corvus.model.MappedFile;
import dev.corvus.model.Tokenizer;
import dev.corvus.model.Tokenizer.TokenType;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.FloatFormats;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.RopeStyle;
import dev.corvus.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Llama models in GGUF, as llama.cpp names them (architecture {@code llama}):
 *
 * <pre>
 * llama.embedding_length  dim            token_embd.weight         [vocab, dim]
 * llama.feed_forward_length hidden       blk.N.attn_norm.weight    [dim]
 * llama.block_count       layers         blk.N.attn_q/k/v/output.weight   wq wk wv wo
 * llama.attention.head_count(_kv)        blk.N.ffn_norm.weight     [dim]
 * llama.context_length    seqLen         blk.N.ffn_gate/down/up.weight    w1 w2 w3
 * llama.rope.freq_base    (10000)        output_norm.weight        [dim]
 * llama.attention.layer_norm_rms_epsilon output.weight (absent: tied to token_embd)
 * </pre>
 *
 * RoPE is llama.cpp's "normal" style for this architecture, pairs (2i, 2i+1): {@link RopeStyle#INTERLEAVED}.
 * llama.cpp's converter permutes the Q and K rows of Hugging Face checkpoints into that order;
 * llama2.c weights already use it, so they are written as they are.
 */
public final class LlamaGguf {
    static final String ARCH = "llama";
    static final int MAX_SIZE = 1 << 24;
    /** general.file_type values. */
    static final int FILE_ALL_F32 = 0, FILE_MOSTLY_F16 = 1, FILE_MOSTLY_Q8_0 = 7, FILE_MOSTLY_BF16 = 32;

    private LlamaGguf() {}

    // ---------------------------------------------------------------- reading

    /** Loads a GGUF model; the checkpoint owns its memory (close it). */
    public static Checkpoint load(Path file) throws IOException {
        MappedFile mapped = MappedFile.map(file);
        MemoryScope scope = MemoryScope.detached("gguf " + file.getFileName());
        try {
            return loadMapped(mapped, scope, true);
        } catch (IOException | RuntimeException e) {
            scope.close();
            mapped.close();
            throw e;
        }
    }

    /** Loads a GGUF model into the caller's scope; the mapping is released by the GC. */
    public static Checkpoint load(Path file, MemoryScope scope) throws IOException {
        return loadMapped(MappedFile.map(file, scope), scope, false);
    }

    /** Loads from a mapping already made; {@code owned}: the checkpoint closes scope and mapping. */
    public static Checkpoint loadMapped(MappedFile mapped, MemoryScope scope, boolean owned) throws IOException {
        GgufReader gguf = GgufReader.read(mapped.path(), mapped.segment());
        LlamaConfig config = config(gguf);
        LlamaWeights weights = weights(gguf, config, scope);
        Tokenizer tokenizer = tokenizer(gguf);
        if (tokenizer != null && tokenizer.vocabSize() != config.vocabSize()) {
            throw new CheckpointException(gguf.file(), "the tokenizer has " + tokenizer.vocabSize() + " tokens but token_embd.weight has " + config.vocabSize() + " rows");
        }
        return new Checkpoint(mapped.path(), Checkpoint.Format.GGUF, config, weights, tokenizer, owned ? scope : null, owned ? mapped : null);
    }

    /** The model's hyper-parameters. */
    public static LlamaConfig config(GgufReader gguf) throws CheckpointException {
        Path file = gguf.file();
        String arch = gguf.has("general.architecture") ? gguf.getString("general.architecture") : "(none)";
        if (!arch.equals(ARCH)) throw new CheckpointException(file, "general.architecture is \"" + arch + "\"; Corvus runs \"llama\" models");
        int dim = gguf.getInt("llama.embedding_length", 1, MAX_SIZE);
        int hidden = gguf.getInt("llama.feed_forward_length", 1, MAX_SIZE);
        int layers = gguf.getInt("llama.block_count", 1, MAX_SIZE);
        int heads = gguf.getInt("llama.attention.head_count", 1, MAX_SIZE);
        int kvHeads = gguf.getInt("llama.attention.head_count_kv", 1, MAX_SIZE, heads);
        int seqLen = gguf.getInt("llama.context_length", 1, Integer.MAX_VALUE);
        float theta = gguf.getFloat("llama.rope.freq_base", 10000f);
        float eps = gguf.getFloat("llama.attention.layer_norm_rms_epsilon", 1e-5f);
        if (!(theta > 0) || Float.isInfinite(theta)) throw new CheckpointException(file, "llama.rope.freq_base is " + theta + ", expected a positive number");
        if (!(eps > 0) || eps >= 1) throw new CheckpointException(file, "llama.attention.layer_norm_rms_epsilon is " + eps + ", expected a small positive number");
        if (dim % heads != 0) throw new CheckpointException(file, "llama.embedding_length " + dim + " is not a multiple of llama.attention.head_count " + heads);
        if (heads % kvHeads != 0) throw new CheckpointException(file, "llama.attention.head_count " + heads + " is not a multiple of head_count_kv " + kvHeads);
        int headDim = dim / heads;
        if (headDim % 2 != 0) throw new CheckpointException(file, "head size " + headDim + " is odd (RoPE rotates pairs)");
        if (gguf.has("llama.rope.dimension_count") && gguf.getLong("llama.rope.dimension_count") != headDim) {
            throw new CheckpointException(file, "llama.rope.dimension_count is " + gguf.getLong("llama.rope.dimension_count")
                    + " but the head size is " + headDim + "; partial rotary embeddings are not supported");
        }
        GgufTensorInfo embedding = gguf.tensor("token_embd.weight").orElseThrow(() -> new CheckpointException(file, "tensor \"token_embd.weight\" is missing"));
        long[] ne = embedding.ne();
        if (ne.length != 2 || ne[0] != dim) {
            throw new CheckpointException(file, "tensor \"token_embd.weight\" has GGUF dims " + Arrays.toString(ne) + ", expected [" + dim + ", vocab]");
        }
        int vocab = (int) ne[1];
        boolean shared = gguf.tensor("output.weight").isEmpty();
        return new LlamaConfig(dim, hidden, layers, heads, kvHeads, vocab, seqLen, theta, eps, RopeStyle.INTERLEAVED, shared);
    }

    /** The weights as zero-copy views; norms stored as F16/BF16 are widened to F32 in {@code scope}. */
    public static LlamaWeights weights(GgufReader gguf, LlamaConfig c, MemoryScope scope) throws CheckpointException {
        int dim = c.dim(), kv = c.kvDim(), hidden = c.hiddenDim(), vocab = c.vocabSize();
        Tensor embedding = matrix(gguf, "token_embd.weight", scope, vocab, dim);
        List<LlamaWeights.Layer> layers = new ArrayList<>(c.layers());
        for (int l = 0; l < c.layers(); l++) {
            String p = "blk." + l + ".";
            layers.add(new LlamaWeights.Layer(
                    norm(gguf, p + "attn_norm.weight", scope, dim),
                    matrix(gguf, p + "attn_q.weight", scope, dim, dim),
                    matrix(gguf, p + "attn_k.weight", scope, kv, dim),
                    matrix(gguf, p + "attn_v.weight", scope, kv, dim),
                    matrix(gguf, p + "attn_output.weight", scope, dim, dim),
                    norm(gguf, p + "ffn_norm.weight", scope, dim),
                    matrix(gguf, p + "ffn_gate.weight", scope, hidden, dim),
                    matrix(gguf, p + "ffn_down.weight", scope, dim, hidden),
                    matrix(gguf, p + "ffn_up.weight", scope, hidden, dim)));
        }
        Tensor finalNorm = norm(gguf, "output_norm.weight", scope, dim);
        Tensor classifier = c.sharedClassifier() ? embedding : matrix(gguf, "output.weight", scope, vocab, dim);
        return new LlamaWeights(embedding, layers, finalNorm, classifier);
    }

    private static Tensor matrix(GgufReader gguf, String name, MemoryScope scope, int... shape) throws CheckpointException {
        GgufTensorInfo info = gguf.tensor(name).orElseThrow(() -> new CheckpointException(gguf.file(), "tensor \"" + name + "\" is missing"));
        if (!Arrays.equals(info.shape(), shape)) {
            throw new CheckpointException(gguf.file(), "tensor \"" + name + "\" has shape " + Arrays.toString(info.shape()) + " (GGUF dims "
                    + Arrays.toString(info.ne()) + "), expected " + Arrays.toString(shape));
        }
        DType dtype = info.type().dtype();
        if (dtype == null || dtype == DType.I32) {
            throw new CheckpointException(gguf.file(), "tensor \"" + name + "\" is " + info.type() + "; Corvus computes with F32, F16, BF16 and Q8_0 weights");
        }
        return gguf.load(info, scope);
    }

    private static Tensor norm(GgufReader gguf, String name, MemoryScope scope, int dim) throws CheckpointException {
        Tensor t = matrix(gguf, name, scope, dim);
        if (t.dtype() == DType.F32) return t;
        if (t.dtype().isQuantized()) throw new CheckpointException(gguf.file(), "norm \"" + name + "\" is " + t.dtype() + "; expected F32, F16 or BF16");
        Tensor f = Tensor.zeros(scope, DType.F32, dim);
        MemorySegment src = t.segment(), dst = f.segment();
        for (int i = 0; i < dim; i++) {
            short h = src.get(ValueLayout.JAVA_SHORT_UNALIGNED, 2L * i);
            dst.setAtIndex(ValueLayout.JAVA_FLOAT, i, t.dtype() == DType.F16 ? FloatFormats.f16ToFloat(h) : FloatFormats.bf16ToFloat(h));
        }
        return f;
    }

    /**
     * The vocabulary a GGUF carries (tokenizer.ggml.*), or null when it has none or it is not a
     * SentencePiece ("llama") vocabulary. The space marker U+2581 reads as a plain space.
     */
    public static Tokenizer tokenizer(GgufReader gguf) throws CheckpointException {
        if (!gguf.has("tokenizer.ggml.tokens") || !gguf.has("tokenizer.ggml.model") || !gguf.getString("tokenizer.ggml.model").equals("llama")) return null;
        Path file = gguf.file();
        String[] tokens = gguf.getStringArray("tokenizer.ggml.tokens");
        int n = tokens.length;
        float[] scores = gguf.has("tokenizer.ggml.scores") ? gguf.getFloatArray("tokenizer.ggml.scores") : new float[n];
        int[] typeIds = gguf.has("tokenizer.ggml.token_type") ? gguf.getIntArray("tokenizer.ggml.token_type") : null;
        if (scores.length != n || (typeIds != null && typeIds.length != n)) {
            throw new CheckpointException(file, "tokenizer.ggml.tokens has " + n + " entries but scores has " + scores.length
                    + (typeIds == null ? "" : " and token_type " + typeIds.length));
        }
        List<byte[]> pieces = new ArrayList<>(n);
        TokenType[] types = new TokenType[n];
        for (int i = 0; i < n; i++) {
            pieces.add(tokens[i].replace('\u2581', ' ').getBytes(StandardCharsets.UTF_8));
            types[i] = typeIds != null ? TokenType.of(typeIds[i])
                    : Tokenizer.parseByteToken(tokens[i]) >= 0 ? TokenType.BYTE : TokenType.NORMAL;
        }
        int bos = gguf.getInt("tokenizer.ggml.bos_token_id", 0, n - 1, Math.min(1, n - 1));
        int eos = gguf.getInt("tokenizer.ggml.eos_token_id", 0, n - 1, Math.min(2, n - 1));
        int unk = gguf.getInt("tokenizer.ggml.unknown_token_id", 0, n - 1, typeIds == null ? -1 : indexOf(types, TokenType.UNKNOWN));
        try {
            return new Tokenizer(pieces, scores, types, null, bos, eos, unk);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(file, "bad vocabulary in tokenizer.ggml.*: " + e.getMessage(), e);
        }
    }

    private static int indexOf(TokenType[] types, TokenType type) {
        for (int i = 0; i < types.length; i++) if (types[i] == type) return i;
        return -1;
    }

    // ---------------------------------------------------------------- writing

    /**
     * Writes a Llama model as GGUF v3. Every 2-D tensor (the token embedding, the classifier when
     * separate, and all layer matrices) is stored as {@code matrixType} (F32, F16, BF16 or Q8_0);
     * the norms stay F32. The tokenizer, when given, goes into tokenizer.ggml.* in llama.cpp's
     * SentencePiece form (space as U+2581, byte tokens as "&lt;0xXX&gt;", control tokens trimmed).
     */
    public static void write(Path file, LlamaConfig c, LlamaWeights w, Tokenizer tokenizer, DType matrixType) throws IOException {
        int fileType = switch (matrixType) {
            case F32 -> FILE_ALL_F32;
            case F16 -> FILE_MOSTLY_F16;
            case BF16 -> FILE_MOSTLY_BF16;
            case Q8_0 -> FILE_MOSTLY_Q8_0;
            default -> throw new IllegalArgumentException("GGUF weights are written as F32, F16, BF16 or Q8_0, not " + matrixType);
        };
        if (c.ropeStyle() != RopeStyle.INTERLEAVED) {
            throw new IllegalArgumentException("GGUF llama models use interleaved RoPE; permute the Q and K rows of a " + c.ropeStyle() + " model first");
        }
        if (tokenizer != null && tokenizer.vocabSize() != c.vocabSize()) {
            throw new IllegalArgumentException("the tokenizer has " + tokenizer.vocabSize() + " tokens but the model " + c.vocabSize());
        }
        String name = file.getFileName().toString().replaceFirst("\\.gguf$", "");
        GgufWriter g = new GgufWriter()
                .putString("general.architecture", ARCH)
                .putString("general.name", name)
                .putUInt32("general.file_type", fileType)
                .putUInt32("general.alignment", GgufReader.DEFAULT_ALIGNMENT)
                .putUInt32("llama.context_length", c.seqLen())
                .putUInt32("llama.embedding_length", c.dim())
                .putUInt32("llama.feed_forward_length", c.hiddenDim())
                .putUInt32("llama.block_count", c.layers())
                .putUInt32("llama.attention.head_count", c.heads())
                .putUInt32("llama.attention.head_count_kv", c.kvHeads())
                .putUInt32("llama.rope.dimension_count", c.headDim())
                .putFloat32("llama.rope.freq_base", c.ropeTheta())
                .putFloat32("llama.attention.layer_norm_rms_epsilon", c.normEps())
                .putUInt32("llama.vocab_size", c.vocabSize());
        if (tokenizer != null) putTokenizer(g, tokenizer);

        g.addTensor("token_embd.weight", w.tokenEmbedding(), matrixType);
        for (int l = 0; l < w.layers().size(); l++) {
            LlamaWeights.Layer layer = w.layers().get(l);
            String p = "blk." + l + ".";
            g.addTensor(p + "attn_norm.weight", layer.attentionNorm(), DType.F32)
                    .addTensor(p + "attn_q.weight", layer.wq(), matrixType)
                    .addTensor(p + "attn_k.weight", layer.wk(), matrixType)
                    .addTensor(p + "attn_v.weight", layer.wv(), matrixType)
                    .addTensor(p + "attn_output.weight", layer.wo(), matrixType)
                    .addTensor(p + "ffn_norm.weight", layer.ffnNorm(), DType.F32)
                    .addTensor(p + "ffn_gate.weight", layer.w1(), matrixType)
                    .addTensor(p + "ffn_down.weight", layer.w2(), matrixType)
                    .addTensor(p + "ffn_up.weight", layer.w3(), matrixType);
        }
        g.addTensor("output_norm.weight", w.finalNorm(), DType.F32);
        if (!c.sharedClassifier()) g.addTensor("output.weight", w.classifier(), matrixType);
        g.write(file);
    }

    static void putTokenizer(GgufWriter g, Tokenizer t) {
        int n = t.vocabSize();
        String[] tokens = new String[n];
        float[] scores = new float[n];
        int[] types = new int[n];
        for (int id = 0; id < n; id++) {
            TokenType type = t.type(id);
            tokens[id] = switch (type) {
                case BYTE -> String.format("<0x%02X>", t.byteValue(id));
                case CONTROL -> t.pieceText(id).strip();
                default -> t.pieceText(id).replace(' ', '\u2581');
            };
            scores[id] = t.score(id);
            types[id] = type.id();
        }
        g.putString("tokenizer.ggml.model", "llama")
                .putArray("tokenizer.ggml.tokens", GgufValueType.STRING, tokens)
                .putArray("tokenizer.ggml.scores", GgufValueType.FLOAT32, scores)
                .putArray("tokenizer.ggml.token_type", GgufValueType.INT32, types)
                .putUInt32("tokenizer.ggml.bos_token_id", t.bosId())
                .putUInt32("tokenizer.ggml.eos_token_id", t.eosId())
                .putBool("tokenizer.ggml.add_bos_token", true)
                .putBool("tokenizer.ggml.add_eos_token", false);
        if (t.unknownId() >= 0) g.putUInt32("tokenizer.ggml.unknown_token_id", t.unknownId());
    }
}
