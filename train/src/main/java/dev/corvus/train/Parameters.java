package dev.corvus.train;

import dev.corvus.model.LlamaConfig;
import dev.corvus.model.LlamaWeights;
import dev.corvus.model.Tokenizer;
import dev.corvus.model.gguf.GgufWriter;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The trainable tensors of a model, in a fixed order, with the memory they live in: F32 master
 * values and their gradients, in a scope this collection owns ({@link #close()} frees it).
 *
 * <p>{@link #of(LlamaConfig, LlamaWeights)} takes a Llama-family model's weights, whatever their
 * dtype (quantised checkpoints are decoded into F32 masters), and names each as GGUF does
 * ({@code token_embd.weight}, {@code blk.0.attn_q.weight}, ...); a classifier shared with the
 * token embedding is one parameter. RoPE frequency factors are constants, copied but not trained.
 * {@link #weights()} gives the masters back as {@link LlamaWeights} for the forward pass and for
 * GGUF export.
 */
public final class Parameters implements AutoCloseable {
    /** A Llama block's optional and required tensors, by their GGUF name within {@code blk.N.}. */
    private static final List<LayerField> LAYER_FIELDS = List.of(
            new LayerField("attn_norm.weight", LlamaWeights.Layer::attentionNorm),
            new LayerField("attn_q.weight", LlamaWeights.Layer::wq),
            new LayerField("attn_k.weight", LlamaWeights.Layer::wk),
            new LayerField("attn_v.weight", LlamaWeights.Layer::wv),
            new LayerField("attn_output.weight", LlamaWeights.Layer::wo),
            new LayerField("ffn_norm.weight", LlamaWeights.Layer::ffnNorm),
            new LayerField("ffn_gate.weight", LlamaWeights.Layer::w1),
            new LayerField("ffn_down.weight", LlamaWeights.Layer::w2),
            new LayerField("ffn_up.weight", LlamaWeights.Layer::w3),
            new LayerField("attn_q.bias", LlamaWeights.Layer::bq),
            new LayerField("attn_k.bias", LlamaWeights.Layer::bk),
            new LayerField("attn_v.bias", LlamaWeights.Layer::bv),
            new LayerField("attn_q_norm.weight", LlamaWeights.Layer::qNorm),
            new LayerField("attn_k_norm.weight", LlamaWeights.Layer::kNorm),
            new LayerField("attn_output.bias", LlamaWeights.Layer::bo),
            new LayerField("post_attention_norm.weight", LlamaWeights.Layer::attentionPostNorm),
            new LayerField("ffn_gate.bias", LlamaWeights.Layer::b1),
            new LayerField("ffn_down.bias", LlamaWeights.Layer::b2),
            new LayerField("ffn_up.bias", LlamaWeights.Layer::b3),
            new LayerField("post_ffw_norm.weight", LlamaWeights.Layer::ffnPostNorm));

    private record LayerField(String name, Function<LlamaWeights.Layer, Tensor> get) {}

    static final String EMBEDDING = "token_embd.weight", FINAL_NORM = "output_norm.weight", CLASSIFIER = "output.weight",
            CLASSIFIER_BIAS = "output.bias";

    private final MemoryScope scope;
    private final Map<String, Parameter> byName = new LinkedHashMap<>();
    private final LlamaConfig config;
    private final Tensor ropeFactors, ropeFactorsLong;

    private Parameters(String name, LlamaConfig config, LlamaWeights constants) {
        this.scope = MemoryScope.detached(name);
        this.config = config;
        this.ropeFactors = constants == null ? null : copy(constants.ropeFactors());
        this.ropeFactorsLong = constants == null ? null : copy(constants.ropeFactorsLong());
    }

    /** An empty collection (of no model) to {@link #add} parameters to: for toy problems and tests. */
    public static Parameters empty() {
        return new Parameters("parameters", null, null);
    }

    /** F32 master copies of every trainable tensor of {@code weights}, named as GGUF does. */
    public static Parameters of(LlamaConfig config, LlamaWeights weights) {
        Parameters p = new Parameters("parameters of a " + config.architecture() + " model", config, weights);
        try {
            p.add(EMBEDDING, weights.tokenEmbedding());
            for (int l = 0; l < weights.layers().size(); l++) {
                LlamaWeights.Layer layer = weights.layers().get(l);
                for (LayerField f : LAYER_FIELDS) {
                    Tensor t = f.get.apply(layer);
                    if (t != null) p.add("blk." + l + "." + f.name, t);
                }
            }
            p.add(FINAL_NORM, weights.finalNorm());
            if (weights.classifier() != weights.tokenEmbedding()) p.add(CLASSIFIER, weights.classifier());
            if (weights.classifierBias() != null) p.add(CLASSIFIER_BIAS, weights.classifierBias());
            return p;
        } catch (RuntimeException e) {
            p.close();
            throw e;
        }
    }

    private Tensor copy(Tensor t) {
        if (t == null) return null;
        return Parameter.of("constant", t, false, scope).value();
    }

    /** Adds a parameter initialised from {@code initial}, weight decay by {@link Parameter#decayByDefault}. */
    public Parameter add(String name, Tensor initial) {
        return add(name, initial, Parameter.decayByDefault(initial));
    }

    /** Adds a parameter initialised from {@code initial} (converted to an F32 master copy). */
    public Parameter add(String name, Tensor initial, boolean decay) {
        if (byName.containsKey(name)) throw new IllegalArgumentException("parameter \"" + name + "\" added twice");
        Parameter p = Parameter.of(name, initial, decay, scope);
        byName.put(name, p);
        return p;
    }

    /** Every parameter, in the order they were added (the model's order). */
    public List<Parameter> list() {
        return Collections.unmodifiableList(new ArrayList<>(byName.values()));
    }

    /** The parameter named {@code name}; an error listing a few names when there is none. */
    public Parameter get(String name) {
        Parameter p = byName.get(name);
        if (p == null) {
            throw new IllegalArgumentException("no parameter \"" + name + "\"; there are " + byName.size() + ", e.g. "
                    + byName.keySet().stream().limit(4).toList());
        }
        return p;
    }

    public int size() {
        return byName.size();
    }

    /** Elements over all parameters. */
    public long numel() {
        long n = 0;
        for (Parameter p : byName.values()) n += p.numel();
        return n;
    }

    /** Sets every gradient to zero. */
    public void zeroGrads() {
        for (Parameter p : byName.values()) p.zeroGrad();
    }

    /** Multiplies every gradient by {@code s}. */
    public void scaleGrads(float s) {
        for (Parameter p : byName.values()) UpdateKernels.scale(p.gradMemory(), p.numel(), s);
    }

    /** The global L2 norm of all gradients together. */
    public double gradNorm() {
        double sum = 0;
        for (Parameter p : byName.values()) sum += UpdateKernels.sumOfSquares(p.gradMemory(), p.numel());
        return Math.sqrt(sum);
    }

    /**
     * Gradient clipping by global norm: when the L2 norm of all gradients together exceeds
     * {@code maxNorm}, every gradient is scaled by maxNorm / norm (as PyTorch's
     * {@code clip_grad_norm_}, without its 1e-6 in the divisor). Returns the norm before clipping;
     * a non-finite norm is returned as it is and nothing is scaled (the caller decides to skip).
     */
    public double clipGradNorm(double maxNorm) {
        if (!(maxNorm > 0)) throw new IllegalArgumentException("clipGradNorm: maxNorm " + maxNorm + " must be positive");
        double norm = gradNorm();
        if (Double.isFinite(norm) && norm > maxNorm) scaleGrads((float) (maxNorm / norm));
        return norm;
    }

    /** The model these parameters came from, or null for a collection made with {@link #empty()}. */
    public LlamaConfig config() {
        return config;
    }

    /**
     * The master values as model weights (views, no copies): what {@code new LlamaModel(config(),
     * weights())} runs and {@code GgufWriter.writeLlama} exports. Only for a collection made by
     * {@link #of(LlamaConfig, LlamaWeights)}.
     */
    public LlamaWeights weights() {
        if (config == null) throw new IllegalStateException("these parameters were not made from a model's weights");
        List<LlamaWeights.Layer> layers = new ArrayList<>();
        for (int l = 0; l < config.layers(); l++) {
            Tensor[] t = new Tensor[LAYER_FIELDS.size()];
            for (int i = 0; i < t.length; i++) t[i] = valueOrNull("blk." + l + "." + LAYER_FIELDS.get(i).name);
            layers.add(new LlamaWeights.Layer(t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8], t[9], t[10], t[11], t[12], t[13],
                    t[14], t[15], t[16], t[17], t[18], t[19]));
        }
        Tensor embedding = get(EMBEDDING).value();
        Tensor classifier = byName.containsKey(CLASSIFIER) ? get(CLASSIFIER).value() : embedding;
        return new LlamaWeights(embedding, layers, get(FINAL_NORM).value(), classifier, valueOrNull(CLASSIFIER_BIAS), ropeFactors,
                ropeFactorsLong);
    }

    /**
     * Writes the master values as a GGUF model that {@code corvus generate} loads: matrices as
     * {@code matrixType} (F32 keeps them exactly; F16, BF16 or Q8_0 make a smaller file), norms
     * and biases F32, with {@code tokenizer}'s vocabulary when not null. Written atomically by
     * the model module's GGUF writer. Only for a collection made by {@link #of(LlamaConfig, LlamaWeights)}.
     */
    public void exportGguf(Path file, Tokenizer tokenizer, DType matrixType) throws IOException {
        GgufWriter.writeLlama(file, config, weights(), tokenizer, matrixType);
    }

    /** The classifier's parameter: {@code output.weight}, or the token embedding when the two are shared. */
    public Parameter classifier() {
        return byName.containsKey(CLASSIFIER) ? get(CLASSIFIER) : get(EMBEDDING);
    }

    /** The classifier bias's parameter ({@code output.bias}, Qwen2), or null when the model has none. */
    public Parameter classifierBias() {
        return byName.get(CLASSIFIER_BIAS);
    }

    private Tensor valueOrNull(String name) {
        Parameter p = byName.get(name);
        return p == null ? null : p.value();
    }

    /** Frees every value and gradient. */
    @Override
    public void close() {
        scope.close();
    }
}
