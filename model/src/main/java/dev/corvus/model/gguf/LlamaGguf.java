package dev.corvus.model.gguf;

import dev.corvus.model.Architecture;
import dev.corvus.model.Checkpoint;
import dev.corvus.model.CheckpointException;
import dev.corvus.model.LlamaConfig;
import dev.corvus.model.LlamaWeights;
import dev.corvus.model.MappedFile;
import dev.corvus.model.Progress;
import dev.corvus.model.Tokenizer;
import dev.corvus.model.tokenizer.Tokenizers;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.FloatFormats;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Quants;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.RopeStyle;
import dev.corvus.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Decoders of the Llama family in GGUF, as llama.cpp names them, for every {@link Architecture}
 * (the key prefix {@code A} is the architecture's name):
 *
 * <pre>
 * A.embedding_length          dim          token_embd.weight                [vocab, dim]
 * A.feed_forward_length       hidden       blk.N.attn_norm.weight           [dim]
 * A.block_count               layers       blk.N.attn_q/k/v.weight (+.bias) or blk.N.attn_qkv.weight (+.bias)
 * A.attention.head_count(_kv) heads        blk.N.attn_q_norm/attn_k_norm    [headDim] (qwen3, gemma3)
 * A.attention.key_length      headDim      blk.N.attn_output.weight (+.bias, llama)
 * A.context_length            seqLen       blk.N.post_attention_norm.weight (gemma)
 * A.rope.freq_base (10000)    ropeTheta    blk.N.ffn_norm.weight            [dim]
 * A.rope.freq_base_swa        sliding      blk.N.ffn_gate/down/up.weight (+.bias, llama); phi3: ffn_up = gate|up
 * A.rope.scaling.type/factor  linear       blk.N.post_ffw_norm.weight (gemma)
 * A.rope.scaling.attn_factor  magnitude    output_norm.weight               [dim]
 * A.attention.sliding_window(_pattern)     output.weight (absent: tied; gemma2: always tied), output.bias
 * A.attn/final_logit_softcapping           rope_freqs.weight (llama3), rope_factors_long/short.weight (phi3)
 * A.attention.layer_norm_rms_epsilon
 * </pre>
 *
 * RoPE is llama.cpp's "normal" style for llama, pairs (2i, 2i+1): {@link RopeStyle#INTERLEAVED};
 * "neox" ({@link RopeStyle#HALF_SPLIT}) for the others. llama.cpp's converter permutes the Q and K
 * rows of Hugging Face Llama checkpoints into the interleaved order; llama2.c weights already use
 * it, so they are written as they are. Fused projections load as row views of the fused tensor.
 * Gemma's norm weights are stored with the 1 of its (1 + w) RMSNorm already added by the converter.
 */
public final class LlamaGguf {
    static final int MAX_SIZE = 1 << 24;
    /** general.file_type values (llama.cpp's llama_ftype), by the dtype of the matrices. */
    static final int FILE_ALL_F32 = 0, FILE_MOSTLY_F16 = 1, FILE_MOSTLY_Q8_0 = 7, FILE_MOSTLY_BF16 = 32;
    /** Gemma's default sliding window and pattern periods (llama.cpp's load_arch_hparams). */
    static final int GEMMA2_WINDOW = 4096, GEMMA2_PERIOD = 2, GEMMA3_PERIOD = 6;
    /** Layer counts of the 27B Gemmas, whose query scale is 1/sqrt(dim/heads) (query_pre_attn_scalar), not 1/sqrt(headDim). */
    static final int GEMMA2_27B_LAYERS = 46, GEMMA3_27B_LAYERS = 62;

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

    /** The architecture a GGUF declares, refused by name (with the supported ones) when Corvus cannot run it. */
    public static Architecture architecture(GgufReader gguf) throws CheckpointException {
        if (!gguf.has("general.architecture")) {
            throw new CheckpointException(gguf.file(), "metadata \"general.architecture\" is missing; Corvus runs " + Architecture.supported());
        }
        String name = gguf.getString("general.architecture");
        Architecture arch = Architecture.ofGguf(name);
        if (arch == null) {
            throw new CheckpointException(gguf.file(), "general.architecture is \"" + name + "\"; Corvus runs " + Architecture.supported());
        }
        return arch;
    }

    /** The model's hyper-parameters, with llama.cpp's defaults for keys a file leaves out. */
    public static LlamaConfig config(GgufReader gguf) throws CheckpointException {
        Path file = gguf.file();
        Architecture arch = architecture(gguf);
        String p = arch.ggufName() + ".";
        int dim = gguf.getInt(p + "embedding_length", 1, MAX_SIZE);
        int hidden = uniform(gguf, p + "feed_forward_length", -1);
        int layers = gguf.getInt(p + "block_count", 1, MAX_SIZE);
        int heads = uniform(gguf, p + "attention.head_count", -1);
        int kvHeads = uniform(gguf, p + "attention.head_count_kv", heads);
        for (String key : new String[] {"feed_forward_length", "attention.head_count", "attention.head_count_kv"}) perLayer(gguf, p + key, layers);
        int seqLen = gguf.getInt(p + "context_length", 1, Integer.MAX_VALUE);
        float theta = gguf.getFloat(p + "rope.freq_base", 10000f);
        positive(file, p + "rope.freq_base", theta);
        if (heads % kvHeads != 0) throw new CheckpointException(file, p + "attention.head_count " + heads + " is not a multiple of head_count_kv " + kvHeads);
        if (!gguf.has(p + "attention.key_length") && dim % heads != 0) {
            throw new CheckpointException(file, p + "embedding_length " + dim + " is not a multiple of " + p + "attention.head_count " + heads
                    + " and " + p + "attention.key_length is missing");
        }
        int headDim = gguf.getInt(p + "attention.key_length", 1, MAX_SIZE, dim / Math.max(heads, 1));
        int valueDim = gguf.getInt(p + "attention.value_length", 1, MAX_SIZE, dim % heads == 0 ? dim / heads : headDim);
        if (valueDim != headDim) {
            throw new CheckpointException(file, p + "attention.value_length " + valueDim + " differs from key_length " + headDim
                    + "; Corvus needs keys and values of one head size");
        }
        if (headDim % 2 != 0) throw new CheckpointException(file, "head size " + headDim + " is odd (RoPE rotates pairs)");
        if (gguf.has(p + "rope.dimension_count") && gguf.getLong(p + "rope.dimension_count") != headDim) {
            throw new CheckpointException(file, p + "rope.dimension_count is " + gguf.getLong(p + "rope.dimension_count")
                    + " but the head size is " + headDim + "; partial rotary embeddings are not supported");
        }

        // RoPE scaling: linear position interpolation (or none); YaRN is not supported
        String scaling = gguf.has(p + "rope.scaling.type") ? gguf.getString(p + "rope.scaling.type") : "linear";
        if (!List.of("none", "linear", "longrope").contains(scaling)) {
            throw new CheckpointException(file, p + "rope.scaling.type is \"" + scaling + "\"; Corvus supports none, linear and longrope");
        }
        float factor = gguf.getFloat(p + "rope.scaling.factor", gguf.getFloat(p + "rope.scale_linear", 0f));
        if (factor < 0 || Float.isNaN(factor) || Float.isInfinite(factor)) {
            throw new CheckpointException(file, p + "rope.scaling.factor is " + factor + ", expected a positive number");
        }
        float ropeScale = scaling.equals("none") || factor == 0f ? 1f : 1f / factor;
        float magnitude = gguf.getFloat(p + "rope.scaling.attn_factor", 1f);
        positive(file, p + "rope.scaling.attn_factor", magnitude);
        int originalContext = gguf.getInt(p + "rope.scaling.original_context_length", 1, Integer.MAX_VALUE, seqLen);

        GgufTensorInfo embedding = gguf.tensor("token_embd.weight").orElseThrow(() -> new CheckpointException(file, "tensor \"token_embd.weight\" is missing"));
        long[] ne = embedding.ne();
        if (ne.length != 2 || ne[0] != dim || ne[1] < 1 || ne[1] > Integer.MAX_VALUE) {
            throw new CheckpointException(file, "tensor \"token_embd.weight\" has GGUF dims " + Arrays.toString(ne) + ", expected [" + dim + ", vocab]");
        }
        int vocab = (int) ne[1];
        float eps = gguf.getFloat(p + "attention.layer_norm_rms_epsilon");
        if (!(eps > 0) || eps >= 1) throw new CheckpointException(file, p + "attention.layer_norm_rms_epsilon is " + eps + ", expected a small positive number");
        // gemma2's graph always multiplies by the token embedding, whatever output.weight a file has
        boolean shared = arch == Architecture.GEMMA2 || gguf.tensor("output.weight").isEmpty();

        // what only some families have: sliding windows, soft-capping, Gemma's scales
        int window = 0;
        List<Boolean> sliding = Collections.nCopies(layers, false);
        float thetaSliding = theta, scaleSliding = ropeScale;
        float attentionScale = (float) (1 / Math.sqrt(headDim)), attentionSoftcap = 0f, finalSoftcap = 0f, embeddingScale = 1f;
        switch (arch) {
            case GEMMA2 -> {
                window = gguf.getInt(p + "attention.sliding_window", 1, Integer.MAX_VALUE, GEMMA2_WINDOW);
                sliding = slidingLayers(gguf, p + "attention.sliding_window_pattern", layers, GEMMA2_PERIOD);
                thetaSliding = gguf.getFloat(p + "rope.freq_base_swa", theta);
                attentionSoftcap = gguf.getFloat(p + "attn_logit_softcapping", 50f);
                finalSoftcap = gguf.getFloat(p + "final_logit_softcapping", 30f);
                positive(file, p + "attn_logit_softcapping", attentionSoftcap);
                positive(file, p + "final_logit_softcapping", finalSoftcap);
                attentionScale = gemmaQueryScale(layers == GEMMA2_27B_LAYERS, dim, heads, headDim);
                embeddingScale = (float) Math.sqrt(dim);
            }
            case GEMMA3 -> {
                window = gguf.getInt(p + "attention.sliding_window", 0, Integer.MAX_VALUE, 0);
                if (window > 0) {
                    sliding = slidingLayers(gguf, p + "attention.sliding_window_pattern", layers, GEMMA3_PERIOD);
                    thetaSliding = gguf.getFloat(p + "rope.freq_base_swa", 10000f);
                    scaleSliding = 1f;
                }
                finalSoftcap = gguf.getFloat(p + "final_logit_softcapping", 0f);
                if (!(finalSoftcap >= 0) || Float.isInfinite(finalSoftcap)) {
                    throw new CheckpointException(file, p + "final_logit_softcapping is " + finalSoftcap + ", expected a positive number");
                }
                attentionScale = gemmaQueryScale(layers == GEMMA3_27B_LAYERS, dim, heads, headDim);
                embeddingScale = (float) Math.sqrt(dim);
            }
            // llama.cpp turns Phi-3's sliding window off (its converters misreport it), and so does Corvus
            case LLAMA, QWEN2, QWEN3, PHI3 -> {}
        }
        positive(file, p + "rope.freq_base_swa", thetaSliding);
        if (!sliding.contains(true)) window = 0;
        try {
            return new LlamaConfig(dim, hidden, layers, heads, kvHeads, vocab, seqLen, theta, eps, arch.ropeStyle(), shared,
                    arch, headDim, arch.activation(), ropeScale, thetaSliding, scaleSliding, magnitude, originalContext,
                    window, sliding, attentionScale, attentionSoftcap, finalSoftcap, embeddingScale);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(file, "bad hyper-parameters: " + e.getMessage(), e);
        }
    }

    private static float gemmaQueryScale(boolean is27b, int dim, int heads, int headDim) {
        return (float) (1 / Math.sqrt(is27b ? (double) (dim / heads) : headDim));
    }

    private static void positive(Path file, String key, float v) throws CheckpointException {
        if (!(v > 0) || Float.isInfinite(v)) throw new CheckpointException(file, key + " is " + v + ", expected a positive number");
    }

    /**
     * An integer key that may also be a per-layer array (llama.cpp's get_key_or_arr); Corvus
     * needs one value for every layer. {@code defaultValue} < 0: the key is required.
     */
    private static int uniform(GgufReader gguf, String key, int defaultValue) throws CheckpointException {
        if (!gguf.has(key)) {
            if (defaultValue < 0) throw new CheckpointException(gguf.file(), "metadata \"" + key + "\" is missing");
            return defaultValue;
        }
        if (!(gguf.metadata().get(key) instanceof GgufArray)) return gguf.getInt(key, 1, MAX_SIZE);
        int[] values = gguf.getIntArray(key);
        for (int v : values) {
            if (v != values[0]) {
                throw new CheckpointException(gguf.file(), "metadata \"" + key + "\" differs between layers " + Arrays.toString(values)
                        + "; Corvus needs the same value for every layer");
            }
        }
        if (values.length == 0 || values[0] < 1 || values[0] > MAX_SIZE) throw new CheckpointException(gguf.file(), "metadata \"" + key + "\" is " + Arrays.toString(values));
        return values[0];
    }

    /** A per-layer array form of {@code key} must have one entry per layer. */
    private static void perLayer(GgufReader gguf, String key, int layers) throws CheckpointException {
        if (gguf.has(key) && gguf.metadata().get(key) instanceof GgufArray a && a.length() != layers) {
            throw new CheckpointException(gguf.file(), "metadata \"" + key + "\" has " + a.length() + " entries for " + layers + " layers");
        }
    }

    /**
     * Which layers slide: a per-layer bool array, or a period n where layer l slides iff
     * l % n < n - 1 (the last of every n layers attends globally; n = 0: all slide), as
     * llama.cpp's set_swa_pattern.
     */
    private static List<Boolean> slidingLayers(GgufReader gguf, String key, int layers, int defaultPeriod) throws CheckpointException {
        Object v = gguf.has(key) ? gguf.metadata().get(key) : null;
        List<Boolean> out = new ArrayList<>(layers);
        if (v instanceof GgufArray a) {
            if (a.length() != layers) throw new CheckpointException(gguf.file(), "metadata \"" + key + "\" has " + a.length() + " entries for " + layers + " layers");
            for (int l = 0; l < layers; l++) {
                out.add(a.values() instanceof boolean[] b ? b[l] : a.elementType().isInteger() ? a.longAt(l) != 0 : badPattern(gguf, key));
            }
            return out;
        }
        int period = v == null ? defaultPeriod : gguf.getInt(key, 0, MAX_SIZE);
        for (int l = 0; l < layers; l++) out.add(period == 0 || l % period < period - 1);
        return out;
    }

    private static boolean badPattern(GgufReader gguf, String key) throws CheckpointException {
        throw new CheckpointException(gguf.file(), "metadata \"" + key + "\" is " + gguf.type(key) + ", expected a period or an array of bools");
    }

    /** The weights as zero-copy views; norms and biases stored as F16/BF16 are widened to F32 in {@code scope}. */
    public static LlamaWeights weights(GgufReader gguf, LlamaConfig c, MemoryScope scope) throws CheckpointException {
        Architecture arch = c.architecture();
        int dim = c.dim(), qDim = c.qDim(), kv = c.kvDim(), hidden = c.hiddenDim(), vocab = c.vocabSize(), hd = c.headDim();
        Tensor embedding = matrix(gguf, "token_embd.weight", scope, vocab, dim);
        List<LlamaWeights.Layer> layers = new ArrayList<>(c.layers());
        for (int l = 0; l < c.layers(); l++) {
            String p = "blk." + l + ".";
            Tensor wq, wk, wv, bq = null, bk = null, bv = null;
            if (gguf.tensor(p + "attn_qkv.weight").isPresent()) {
                // fused rows: q, then k, then v
                Tensor qkv = matrix(gguf, p + "attn_qkv.weight", scope, qDim + 2 * kv, dim);
                wq = qkv.narrow(0, 0, qDim);
                wk = qkv.narrow(0, qDim, kv);
                wv = qkv.narrow(0, qDim + kv, kv);
                Tensor b = vector(gguf, p + "attn_qkv.bias", scope, false, qDim + 2 * kv);
                if (b != null) {
                    bq = b.narrow(0, 0, qDim);
                    bk = b.narrow(0, qDim, kv);
                    bv = b.narrow(0, qDim + kv, kv);
                }
            } else {
                wq = matrix(gguf, p + "attn_q.weight", scope, qDim, dim);
                wk = matrix(gguf, p + "attn_k.weight", scope, kv, dim);
                wv = matrix(gguf, p + "attn_v.weight", scope, kv, dim);
                bq = vector(gguf, p + "attn_q.bias", scope, false, qDim);
                bk = vector(gguf, p + "attn_k.bias", scope, false, kv);
                bv = vector(gguf, p + "attn_v.bias", scope, false, kv);
            }
            Tensor w1, w3;
            if (arch.fusedGateUp()) {
                Tensor up = matrix(gguf, p + "ffn_up.weight", scope, 2 * hidden, dim);
                w1 = up.narrow(0, 0, hidden);
                w3 = up.narrow(0, hidden, hidden);
            } else {
                w1 = matrix(gguf, p + "ffn_gate.weight", scope, hidden, dim);
                w3 = matrix(gguf, p + "ffn_up.weight", scope, hidden, dim);
            }
            boolean biases = arch.llamaBiases();
            layers.add(new LlamaWeights.Layer(
                    vector(gguf, p + "attn_norm.weight", scope, true, dim), wq, wk, wv,
                    matrix(gguf, p + "attn_output.weight", scope, dim, qDim),
                    vector(gguf, p + "ffn_norm.weight", scope, true, dim),
                    w1, matrix(gguf, p + "ffn_down.weight", scope, dim, hidden), w3,
                    bq, bk, bv,
                    arch.qkNorm() ? vector(gguf, p + "attn_q_norm.weight", scope, true, hd) : null,
                    arch.qkNorm() ? vector(gguf, p + "attn_k_norm.weight", scope, true, hd) : null,
                    biases ? vector(gguf, p + "attn_output.bias", scope, false, dim) : null,
                    arch.postNorms() ? vector(gguf, p + "post_attention_norm.weight", scope, true, dim) : null,
                    biases ? vector(gguf, p + "ffn_gate.bias", scope, false, hidden) : null,
                    biases ? vector(gguf, p + "ffn_down.bias", scope, false, dim) : null,
                    biases ? vector(gguf, p + "ffn_up.bias", scope, false, hidden) : null,
                    arch.postNorms() ? vector(gguf, p + "post_ffw_norm.weight", scope, true, dim) : null));
        }
        Tensor finalNorm = vector(gguf, "output_norm.weight", scope, true, dim);
        Tensor classifier = c.sharedClassifier() ? embedding : matrix(gguf, "output.weight", scope, vocab, dim);
        Tensor classifierBias = arch.outputBias() ? vector(gguf, "output.bias", scope, false, vocab) : null;
        Tensor factors = null, longFactors = null;
        if (longRope(gguf, arch)) {
            factors = vector(gguf, "rope_factors_short.weight", scope, false, hd / 2);
            longFactors = vector(gguf, "rope_factors_long.weight", scope, false, hd / 2);
        } else if (arch == Architecture.LLAMA) {
            factors = vector(gguf, "rope_freqs.weight", scope, false, hd / 2);
        }
        return new LlamaWeights(embedding, layers, finalNorm, classifier, classifierBias, factors, longFactors);
    }

    /** Whether the model carries Phi-3 style long/short RoPE factors (phi3 always; llama under longrope scaling). */
    private static boolean longRope(GgufReader gguf, Architecture arch) throws CheckpointException {
        String key = arch.ggufName() + ".rope.scaling.type";
        return arch == Architecture.PHI3 || (arch == Architecture.LLAMA && gguf.has(key) && gguf.getString(key).equals("longrope"));
    }

    /** The GGML types Corvus computes with (floating point or quantised), for errors. */
    static String matrixTypes() {
        return Arrays.stream(GgmlType.values()).filter(t -> t.dtype() != null && (t.dtype().isFloatingPoint() || t.dtype().isQuantized()))
                .map(GgmlType::name).collect(Collectors.joining(", "));
    }

    private static GgufTensorInfo info(GgufReader gguf, String name, int... shape) throws CheckpointException {
        GgufTensorInfo info = gguf.tensor(name).orElseThrow(() -> new CheckpointException(gguf.file(), "tensor \"" + name + "\" is missing"));
        if (!Arrays.equals(info.shape(), shape)) {
            throw new CheckpointException(gguf.file(), "tensor \"" + name + "\" has shape " + Arrays.toString(info.shape()) + " (GGUF dims "
                    + Arrays.toString(info.ne()) + "), expected " + Arrays.toString(shape) + " from the metadata");
        }
        return info;
    }

    private static Tensor matrix(GgufReader gguf, String name, MemoryScope scope, int... shape) throws CheckpointException {
        GgufTensorInfo info = info(gguf, name, shape);
        DType dtype = info.type().dtype();
        if (dtype == null || !(dtype.isFloatingPoint() || dtype.isQuantized())) {
            throw new CheckpointException(gguf.file(), "tensor \"" + name + "\" is " + info.type() + "; Corvus computes with " + matrixTypes() + " weights");
        }
        Tensor t = gguf.load(info, scope);
        if (dtype.isQuantized()) {
            // A NaN or infinite block scale poisons every logit downstream; refuse it here, by block.
            long blocks = t.numel() / dtype.blockSize();
            long bad = Quants.findNonFiniteScale(dtype, t.segment(), t.byteOffset(), blocks);
            if (bad >= 0) {
                throw new CheckpointException(gguf.file(), "tensor \"" + name + "\" (" + dtype + ") has a NaN or infinite scale in block " + bad
                        + " of " + blocks + "; the file is corrupt (re-download or re-quantise it)");
            }
        }
        return t;
    }

    /** A norm, bias or factor vector as F32 (widened from F16/BF16 into {@code scope}); null when optional and absent. */
    private static Tensor vector(GgufReader gguf, String name, MemoryScope scope, boolean required, int length) throws CheckpointException {
        if (!required && gguf.tensor(name).isEmpty()) return null;
        GgufTensorInfo info = info(gguf, name, length);
        DType dtype = info.type().dtype();
        if (dtype != DType.F32 && dtype != DType.F16 && dtype != DType.BF16) {
            throw new CheckpointException(gguf.file(), "tensor \"" + name + "\" is " + info.type() + "; expected F32, F16 or BF16");
        }
        Tensor t = gguf.load(info, scope);
        if (dtype == DType.F32) return t;
        Tensor f = Tensor.zeros(scope, DType.F32, length);
        MemorySegment src = t.segment(), dst = f.segment();
        for (int i = 0; i < length; i++) {
            short h = src.get(ValueLayout.JAVA_SHORT_UNALIGNED, t.byteOffset() + 2L * i);
            dst.setAtIndex(ValueLayout.JAVA_FLOAT, i, dtype == DType.F16 ? FloatFormats.f16ToFloat(h) : FloatFormats.bf16ToFloat(h));
        }
        return f;
    }

    /** The vocabulary a GGUF carries (tokenizer.ggml.*), or null when it has none; see {@link Tokenizers#fromGguf}. */
    public static Tokenizer tokenizer(GgufReader gguf) throws CheckpointException {
        return Tokenizers.fromGguf(gguf);
    }

    // ---------------------------------------------------------------- writing

    /**
     * Writes a model of any {@link Architecture} as GGUF v3, in the layout llama.cpp's converter
     * produces (phi3 with fused attn_qkv and gate|up ffn_up). Every 2-D tensor (the token
     * embedding, the classifier when separate, and all layer matrices) is stored as
     * {@code matrixType} (any floating-point or quantised dtype GGUF holds); norms, biases and
     * RoPE factors stay F32. The file is read back and must give {@code c} again: a config GGUF
     * cannot express (say, a soft-cap on a llama) is refused rather than written wrong. The
     * tokenizer, when given, goes into tokenizer.ggml.* in llama.cpp's SentencePiece form (space
     * as U+2581, byte tokens as "&lt;0xXX&gt;", control tokens trimmed).
     */
    public static void write(Path file, LlamaConfig c, LlamaWeights w, Tokenizer tokenizer, DType matrixType) throws IOException {
        write(file, c, w, tokenizer, matrixType, Progress.NONE);
    }

    /** {@link #write(Path, LlamaConfig, LlamaWeights, Tokenizer, DType)}, reporting the bytes written to {@code progress}. */
    public static void write(Path file, LlamaConfig c, LlamaWeights w, Tokenizer tokenizer, DType matrixType, Progress progress) throws IOException {
        if (!matrixType.isFloatingPoint() && !matrixType.isQuantized()) throw new IllegalArgumentException("GGUF weights cannot be " + matrixType);
        Architecture arch = c.architecture();
        if (c.ropeStyle() != arch.ropeStyle()) {
            throw new IllegalArgumentException("GGUF " + arch.ggufName() + " models use " + arch.ropeStyle() + " RoPE; permute the Q and K rows of a "
                    + c.ropeStyle() + " model first");
        }
        if (tokenizer != null && tokenizer.vocabSize() != c.vocabSize()) {
            throw new IllegalArgumentException("the tokenizer has " + tokenizer.vocabSize() + " tokens but the model " + c.vocabSize());
        }
        checkWritable(arch, c, w);
        String name = file.getFileName().toString().replaceFirst("\\.gguf$", "");
        String p = arch.ggufName() + ".";
        GgufWriter g = new GgufWriter()
                .putString("general.architecture", arch.ggufName())
                .putString("general.name", name)
                .putUInt32("general.alignment", GgufReader.DEFAULT_ALIGNMENT)
                .putUInt32(p + "context_length", c.seqLen())
                .putUInt32(p + "embedding_length", c.dim())
                .putUInt32(p + "feed_forward_length", c.hiddenDim())
                .putUInt32(p + "block_count", c.layers())
                .putUInt32(p + "attention.head_count", c.heads())
                .putUInt32(p + "attention.head_count_kv", c.kvHeads())
                .putUInt32(p + "attention.key_length", c.headDim())
                .putUInt32(p + "attention.value_length", c.headDim())
                .putUInt32(p + "rope.dimension_count", c.headDim())
                .putFloat32(p + "rope.freq_base", c.ropeTheta())
                .putFloat32(p + "attention.layer_norm_rms_epsilon", c.normEps())
                .putUInt32(p + "vocab_size", c.vocabSize());
        int fileType = fileType(matrixType);
        if (fileType >= 0) g.putUInt32("general.file_type", fileType);
        if (c.ropeScale() != 1f) g.putString(p + "rope.scaling.type", "linear").putFloat32(p + "rope.scaling.factor", 1f / c.ropeScale());
        if (c.ropeMagnitude() != 1f) g.putFloat32(p + "rope.scaling.attn_factor", c.ropeMagnitude());
        if (c.ropeOriginalContext() != c.seqLen()) g.putUInt32(p + "rope.scaling.original_context_length", c.ropeOriginalContext());
        if (c.ropeThetaSliding() != c.ropeTheta()) g.putFloat32(p + "rope.freq_base_swa", c.ropeThetaSliding());
        if (c.slidingWindow() > 0) {
            boolean[] pattern = new boolean[c.layers()];
            for (int l = 0; l < pattern.length; l++) pattern[l] = c.isSliding(l);
            g.putUInt32(p + "attention.sliding_window", c.slidingWindow()).putArray(p + "attention.sliding_window_pattern", GgufValueType.BOOL, pattern);
        }
        if (c.attentionSoftcap() != 0f) g.putFloat32(p + "attn_logit_softcapping", c.attentionSoftcap());
        if (c.finalSoftcap() != 0f) g.putFloat32(p + "final_logit_softcapping", c.finalSoftcap());
        if (tokenizer != null) putTokenizer(g, tokenizer);

        try (MemoryScope fused = MemoryScope.open("gguf write (fused tensors)")) {
            g.addTensor("token_embd.weight", w.tokenEmbedding(), matrixType);
            for (int l = 0; l < w.layers().size(); l++) {
                LlamaWeights.Layer L = w.layers().get(l);
                String b = "blk." + l + ".";
                g.addTensor(b + "attn_norm.weight", L.attentionNorm(), DType.F32);
                if (arch == Architecture.PHI3) {
                    g.addTensor(b + "attn_qkv.weight", rows(L.wq(), L.wk(), L.wv()), matrixType);
                    if (L.bq() != null) g.addTensor(b + "attn_qkv.bias", rows(L.bq(), L.bk(), L.bv()), DType.F32);
                } else {
                    g.addTensor(b + "attn_q.weight", L.wq(), matrixType).addTensor(b + "attn_k.weight", L.wk(), matrixType)
                            .addTensor(b + "attn_v.weight", L.wv(), matrixType);
                    addOptional(g, b + "attn_q.bias", L.bq());
                    addOptional(g, b + "attn_k.bias", L.bk());
                    addOptional(g, b + "attn_v.bias", L.bv());
                }
                addOptional(g, b + "attn_q_norm.weight", L.qNorm());
                addOptional(g, b + "attn_k_norm.weight", L.kNorm());
                g.addTensor(b + "attn_output.weight", L.wo(), matrixType);
                addOptional(g, b + "attn_output.bias", L.bo());
                addOptional(g, b + "post_attention_norm.weight", L.attentionPostNorm());
                g.addTensor(b + "ffn_norm.weight", L.ffnNorm(), DType.F32);
                if (arch.fusedGateUp()) {
                    g.addTensor(b + "ffn_up.weight", rows(L.w1(), L.w3()), matrixType);
                } else {
                    g.addTensor(b + "ffn_gate.weight", L.w1(), matrixType).addTensor(b + "ffn_up.weight", L.w3(), matrixType);
                }
                g.addTensor(b + "ffn_down.weight", L.w2(), matrixType);
                addOptional(g, b + "ffn_gate.bias", L.b1());
                addOptional(g, b + "ffn_down.bias", L.b2());
                addOptional(g, b + "ffn_up.bias", L.b3());
                addOptional(g, b + "post_ffw_norm.weight", L.ffnPostNorm());
            }
            g.addTensor("output_norm.weight", w.finalNorm(), DType.F32);
            if (!c.sharedClassifier()) g.addTensor("output.weight", w.classifier(), matrixType);
            addOptional(g, "output.bias", w.classifierBias());
            if (arch == Architecture.PHI3) {
                addOptional(g, "rope_factors_short.weight", w.ropeFactors());
                addOptional(g, "rope_factors_long.weight", w.ropeFactorsLong());
            } else {
                addOptional(g, "rope_freqs.weight", w.ropeFactors());
            }
            // read back before it replaces anything: a refused config leaves the old file alone
            g.progress(progress).write(file, written -> {
                LlamaConfig back;
                try (MappedFile mapped = MappedFile.map(written)) {
                    back = config(GgufReader.read(file, mapped.segment()));
                }
                if (!back.equals(c)) {
                    throw new IllegalArgumentException("GGUF " + arch.ggufName() + " cannot express this config: it would read back as " + back + ", not " + c);
                }
            });
        }
    }

    /** llama.cpp's general.file_type for matrices of {@code t} (the "mostly" types; K-quants as their _M mix), or -1 for none. */
    static int fileType(DType t) {
        return switch (t.name()) {
            case "F32" -> FILE_ALL_F32;
            case "F16" -> FILE_MOSTLY_F16;
            case "Q4_0" -> 2;
            case "Q4_1" -> 3;
            case "Q8_0" -> FILE_MOSTLY_Q8_0;
            case "Q5_0" -> 8;
            case "Q5_1" -> 9;
            case "Q2_K" -> 10;
            case "Q3_K" -> 12;
            case "Q4_K" -> 15;
            case "Q5_K" -> 17;
            case "Q6_K" -> 18;
            case "BF16" -> FILE_MOSTLY_BF16;
            default -> -1;
        };
    }

    /** Refuses parts the family's graph would not read back (they would be dropped silently). */
    private static void checkWritable(Architecture arch, LlamaConfig c, LlamaWeights w) {
        List<String> extra = new ArrayList<>();
        if (arch == Architecture.GEMMA2 && !c.sharedClassifier()) extra.add("a separate classifier (gemma2 ties it to the token embedding)");
        if (!arch.outputBias() && w.classifierBias() != null) extra.add("a classifier bias");
        if (arch != Architecture.LLAMA && arch != Architecture.PHI3 && w.ropeFactors() != null) extra.add("RoPE factors");
        if (arch != Architecture.PHI3 && w.ropeFactorsLong() != null) extra.add("long RoPE factors");
        for (int l = 0; l < w.layers().size(); l++) {
            LlamaWeights.Layer L = w.layers().get(l);
            if (!arch.qkNorm() && (L.qNorm() != null || L.kNorm() != null)) extra.add("layer " + l + " q/k norms");
            if (arch.qkNorm() && (L.qNorm() == null || L.kNorm() == null)) extra.add("layer " + l + " without q/k norms");
            if (!arch.postNorms() && (L.attentionPostNorm() != null || L.ffnPostNorm() != null)) extra.add("layer " + l + " post norms");
            if (arch.postNorms() && (L.attentionPostNorm() == null || L.ffnPostNorm() == null)) extra.add("layer " + l + " without post norms");
            if (!arch.llamaBiases() && (L.bo() != null || L.b1() != null || L.b2() != null || L.b3() != null)) extra.add("layer " + l + " output/MLP biases");
            if ((L.bq() == null) != (L.bk() == null) || (L.bq() == null) != (L.bv() == null)) extra.add("layer " + l + " q/k/v biases on some of q, k, v only");
        }
        if (!extra.isEmpty()) throw new IllegalArgumentException("GGUF " + arch.ggufName() + " cannot hold " + String.join(", ", extra));
    }

    private static void addOptional(GgufWriter g, String name, Tensor t) {
        if (t != null) g.addTensor(name, t, DType.F32);
    }

    /** The rows of the parts one under the other, F32, in the current scope (fused GGUF tensors). */
    private static Tensor rows(Tensor... parts) {
        Tensor[] f = new Tensor[parts.length];
        for (int i = 0; i < parts.length; i++) f[i] = parts[i].dtype() == DType.F32 ? parts[i] : Ops.convert(parts[i], DType.F32);
        return Ops.concat(0, f);
    }

    static void putTokenizer(GgufWriter g, Tokenizer t) {
        Tokenizers.toGguf(g, t);
    }
}
