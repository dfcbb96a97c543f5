package dev.corvus.chunking.models;

import dev.corvus.chunking.Graph;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;

/**
 * The benchmark models by name, at a given sequence length ({@code evoformer/256}): the JMH suite,
 * its longest-sequence report and {@code corvus chunk} use the same configurations.
 * <ul>
 *   <li>{@code transformer-materialised}, {@code transformer-flash}: 2 decoder layers, width 256,
 *       4 heads of 64, SwiGLU hidden 688, causal; N = tokens.</li>
 *   <li>{@code evoformer}: one pair block, N x N x 128 pair tensor, 4 heads of 32; N = residues.</li>
 *   <li>{@code vit}: 2 encoder layers, batch 1, width 384, 6 heads of 64 (ViT-S), scores
 *       materialised; N = patches.</li>
 * </ul>
 */
public record ModelCase(String model, int n) {
    public static final java.util.List<String> NAMES = java.util.List.of("transformer-materialised", "transformer-flash", "evoformer", "vit");

    public static ModelCase parse(String spec) {
        int at = spec.indexOf('/');
        if (at < 0) throw new IllegalArgumentException("model spec '" + spec + "' is not name/length, e.g. evoformer/256");
        String name = spec.substring(0, at);
        if (!NAMES.contains(name)) throw new IllegalArgumentException("unknown model '" + name + "'; known: " + String.join(", ", NAMES));
        int n;
        try {
            n = Integer.parseInt(spec.substring(at + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("model spec '" + spec + "': length '" + spec.substring(at + 1) + "' is not a number");
        }
        if (n < 1) throw new IllegalArgumentException("model spec '" + spec + "': length must be positive");
        return new ModelCase(name, n);
    }

    public ModelCase withN(int length) {
        return new ModelCase(model, length);
    }

    /** Sequence lengths are searched in steps of this (the longest-sequence table). */
    public int step() {
        return model.equals("evoformer") ? 8 : 128;
    }

    public Graph trace(MemoryScope weights) {
        return switch (model) {
            case "transformer-materialised" -> TransformerStack.trace(transformer(TransformerStack.Attention.MATERIALISED), weights, 1);
            case "transformer-flash" -> TransformerStack.trace(transformer(TransformerStack.Attention.FLASH), weights, 1);
            case "evoformer" -> EvoformerPairBlock.trace(evoformer(), weights, 1);
            case "vit" -> VitEncoder.trace(vit(), weights, 1);
            default -> throw new IllegalArgumentException("unknown model '" + model + "'; known: transformer-materialised, transformer-flash, evoformer, vit");
        };
    }

    public Tensor input(MemoryScope scope) {
        return switch (model) {
            case "transformer-materialised", "transformer-flash" -> TransformerStack.input(transformer(TransformerStack.Attention.FLASH), scope, 2);
            case "evoformer" -> EvoformerPairBlock.input(evoformer(), scope, 2);
            case "vit" -> VitEncoder.input(vit(), scope, 2);
            default -> throw new IllegalArgumentException("unknown model '" + model + "'");
        };
    }

    private TransformerStack.Config transformer(TransformerStack.Attention a) {
        return new TransformerStack.Config(2, 256, 4, 688, n, a);
    }

    private EvoformerPairBlock.Config evoformer() {
        return new EvoformerPairBlock.Config(1, n, 128, 4, 32);
    }

    private VitEncoder.Config vit() {
        return new VitEncoder.Config(2, 1, n, 384, 6, false);
    }

    @Override
    public String toString() {
        return model + "/" + n;
    }
}
