package dev.corvus.model;

import dev.corvus.tensor.RopeStyle;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * The GGUF architectures the one decoder in {@link LlamaModel} runs, and what sets them apart in
 * structure (which tensors a block has). Their hyper-parameter rules (defaults, sliding-window
 * patterns, soft-capping, the query scale) are read by {@code LlamaGguf}, following llama.cpp's
 * {@code load_arch_hparams} for each; everything numeric ends up in {@link LlamaConfig}.
 *
 * <pre>
 *          rope   MLP        q/k norm  post norms  fused        biases read
 * llama    pairs  SiLU-GLU   -         -           (qkv)        q k v, attn_output, ffn_*; rope_freqs
 * qwen2    neox   SiLU-GLU   -         -           (qkv)        q k v, output
 * qwen3    neox   SiLU-GLU   yes       -           (qkv)        q k v
 * phi3     neox   SiLU-GLU   -         -           qkv, gate+up q k v, output; rope_factors_long/short
 * gemma2   neox   GELU-GLU   -         yes         (qkv)        q k v
 * gemma3   neox   GELU-GLU   yes       yes         (qkv)        q k v
 * </pre>
 * "(qkv)": llama.cpp takes a fused {@code attn_qkv} wherever it finds one, so every family may.
 */
public enum Architecture {
    LLAMA("llama", RopeStyle.INTERLEAVED, LlamaConfig.Activation.SILU, false, false, false, true, false),
    QWEN2("qwen2", RopeStyle.HALF_SPLIT, LlamaConfig.Activation.SILU, false, false, false, false, true),
    QWEN3("qwen3", RopeStyle.HALF_SPLIT, LlamaConfig.Activation.SILU, true, false, false, false, false),
    PHI3("phi3", RopeStyle.HALF_SPLIT, LlamaConfig.Activation.SILU, false, false, true, false, true),
    GEMMA2("gemma2", RopeStyle.HALF_SPLIT, LlamaConfig.Activation.GELU_TANH, false, true, false, false, false),
    GEMMA3("gemma3", RopeStyle.HALF_SPLIT, LlamaConfig.Activation.GELU_TANH, true, true, false, false, false);

    private final String ggufName;
    private final RopeStyle ropeStyle;
    private final LlamaConfig.Activation activation;
    private final boolean qkNorm, postNorms, fusedGateUp, llamaBiases, outputBias;

    Architecture(String ggufName, RopeStyle ropeStyle, LlamaConfig.Activation activation, boolean qkNorm, boolean postNorms,
            boolean fusedGateUp, boolean llamaBiases, boolean outputBias) {
        this.ggufName = ggufName;
        this.ropeStyle = ropeStyle;
        this.activation = activation;
        this.qkNorm = qkNorm;
        this.postNorms = postNorms;
        this.fusedGateUp = fusedGateUp;
        this.llamaBiases = llamaBiases;
        this.outputBias = outputBias;
    }

    /** The value of {@code general.architecture}, also the prefix of the family's metadata keys. */
    public String ggufName() {
        return ggufName;
    }

    /** llama.cpp's rope type for the family: "normal" (pairs 2i, 2i+1) for llama, "neox" (i, i + d/2) for the rest. */
    public RopeStyle ropeStyle() {
        return ropeStyle;
    }

    public LlamaConfig.Activation activation() {
        return activation;
    }

    /** Every block RMS-normalises each query and key head ({@code attn_q_norm}, {@code attn_k_norm}, [headDim]) before RoPE. */
    public boolean qkNorm() {
        return qkNorm;
    }

    /** Every block normalises the attention and MLP outputs before their residual adds ({@code post_attention_norm}, {@code post_ffw_norm}). */
    public boolean postNorms() {
        return postNorms;
    }

    /** The MLP's gate and up projections come as one {@code ffn_up} [2·hidden, dim], gate rows first, and there is no {@code ffn_gate}. */
    public boolean fusedGateUp() {
        return fusedGateUp;
    }

    /** The graph adds {@code attn_output.bias} and {@code ffn_gate/up/down.bias} when the file has them (llama only). */
    public boolean llamaBiases() {
        return llamaBiases;
    }

    /** The graph adds {@code output.bias} to the logits when the file has it. */
    public boolean outputBias() {
        return outputBias;
    }

    /** The architecture named {@code general.architecture = name}, or null. */
    public static Architecture ofGguf(String name) {
        for (Architecture a : values()) if (a.ggufName.equals(name)) return a;
        return null;
    }

    /** "llama, qwen2, ...", for errors. */
    public static String supported() {
        return Arrays.stream(values()).map(Architecture::ggufName).collect(Collectors.joining(", "));
    }
}
