package dev.corvus.dit;

/**
 * The sizes of a {@link VideoDiT}: the latent video it denoises, the 3-D patch, the transformer
 * and its conditioning. Every size is checked when the record is made, so a bad configuration
 * fails with the field and the expected value rather than as a shape error deep in a forward.
 *
 * @param frames          T, frames of the latent video
 * @param height          H, latent rows per frame
 * @param width           W, latent columns per frame
 * @param channels        Cin, latent channels (3 for RGB pixels used directly as the latent)
 * @param patchFrames     p_t, frames per patch; must divide {@code frames}
 * @param patchHeight     p_h, rows per patch; must divide {@code height}
 * @param patchWidth      p_w, columns per patch; must divide {@code width}
 * @param hidden          C, the transformer width; must split into {@code heads}
 * @param heads           attention heads
 * @param depth           blocks: STDiT blocks (each spatial, temporal and cross attention and an
 *                        MLP), or Latte blocks (alternately spatial-only and temporal-only, each
 *                        with cross attention and an MLP)
 * @param mlpHidden       the MLP's inner width
 * @param classes         learned class embeddings (the class conditions adaLN and picks the
 *                        learned conditioning tokens)
 * @param contextTokens   L, conditioning tokens cross attention reads
 * @param contextChannels the width of the conditioning tokens before their projection to C (a
 *                        text encoder's width, or of the learned class tokens)
 * @param frequencyDim    sinusoidal timestep features fed to the timestep MLP (even)
 * @param schedule        the block schedule
 * @param eps             LayerNorm epsilon
 */
public record DitConfig(int frames, int height, int width, int channels, int patchFrames, int patchHeight, int patchWidth, int hidden,
        int heads, int depth, int mlpHidden, int classes, int contextTokens, int contextChannels, int frequencyDim, Schedule schedule,
        float eps) {

    /** How blocks are laid out. */
    public enum Schedule {
        /** OpenSora STDiT: every block runs spatial attention, temporal attention, cross attention, MLP. */
        STDIT,
        /** Latte: block i attends over space when i is even and over time when odd; each has cross attention and an MLP. */
        LATTE
    }

    public DitConfig {
        positive("frames", frames);
        positive("height", height);
        positive("width", width);
        positive("channels", channels);
        positive("patchFrames", patchFrames);
        positive("patchHeight", patchHeight);
        positive("patchWidth", patchWidth);
        positive("hidden", hidden);
        positive("heads", heads);
        positive("depth", depth);
        positive("mlpHidden", mlpHidden);
        positive("classes", classes);
        positive("contextTokens", contextTokens);
        positive("contextChannels", contextChannels);
        positive("frequencyDim", frequencyDim);
        divides("frames", frames, "patchFrames", patchFrames);
        divides("height", height, "patchHeight", patchHeight);
        divides("width", width, "patchWidth", patchWidth);
        if (hidden % heads != 0) {
            throw new IllegalArgumentException("DitConfig: hidden = " + hidden + " does not split into heads = " + heads
                    + " (hidden must be a multiple of heads)");
        }
        if (frequencyDim % 2 != 0) {
            throw new IllegalArgumentException("DitConfig: frequencyDim = " + frequencyDim + " must be even (sin and cos halves)");
        }
        if (schedule == null) throw new IllegalArgumentException("DitConfig: schedule is null (STDIT or LATTE)");
        if (!(eps > 0)) throw new IllegalArgumentException("DitConfig: eps = " + eps + " must be positive");
    }

    private static void positive(String field, int value) {
        if (value < 1) throw new IllegalArgumentException("DitConfig: " + field + " = " + value + " must be at least 1");
    }

    private static void divides(String field, int size, String patchField, int patch) {
        if (size % patch != 0) {
            throw new IllegalArgumentException("DitConfig: " + field + " = " + size + " is not a multiple of " + patchField + " = " + patch);
        }
    }

    /** Patch tokens per clip along time: T / p_t. */
    public int tokenFrames() {
        return frames / patchFrames;
    }

    /** Patch tokens per frame: (H / p_h) · (W / p_w). */
    public int tokenPatches() {
        return (height / patchHeight) * (width / patchWidth);
    }

    /** Values in one patch: p_t · p_h · p_w · Cin. */
    public int patchValues() {
        return patchFrames * patchHeight * patchWidth * channels;
    }

    public int headDim() {
        return hidden / heads;
    }

    /** Values in every weight {@link VideoDiT#initialise} makes: what the gradient all-reduce sends, without building the model. */
    public long parameterCount() {
        long c = hidden, attention = 4 * (c * c + c);
        long n = (c * patchValues() + c) + (c * frequencyDim + c) + (c * c + c) + (long) classes * c + (long) classes * contextTokens * contextChannels
                + (c * contextChannels + c);
        for (int i = 0; i < depth; i++) {
            boolean spatial = schedule == Schedule.STDIT || i % 2 == 0, temporal = schedule == Schedule.STDIT || i % 2 == 1;
            long modulated = (spatial ? 1 : 0) + (temporal ? 1 : 0) + 1;
            n += 3 * modulated * c * c + 3 * modulated * c;
            n += ((spatial ? 1 : 0) + (temporal ? 1 : 0) + 1) * attention;
            n += (mlpHidden * c + mlpHidden) + (c * mlpHidden + c);
        }
        return n + (2 * c * c + 2 * c) + ((long) patchValues() * c + patchValues());
    }

    /**
     * Multiply-add FLOPs (2 per multiply-add) of one forward over {@code batch} clips: the patch
     * embedding and final projection, per block the q/k/v/o projections and the score and value
     * products of every attention it runs (spatial over S, temporal over T', cross over the L
     * conditioning tokens, whose k and v are projected once per clip) and the MLP. Element-wise ops,
     * norms and the per-clip conditioning MLPs are left out (they are O(C) per token, not O(C²)).
     * A training step is counted as 3 forwards (the backward's two products per forward product),
     * the usual model-FLOP convention: attention's recomputation in the backward is not counted.
     */
    public double forwardFlops(int batch) {
        double tokens = (double) batch * tokenFrames() * tokenPatches(), c = hidden;
        double perToken = 2.0 * patchValues() * c * 2; // patch embedding in, final projection out
        for (int i = 0; i < depth; i++) {
            boolean spatial = schedule == Schedule.STDIT || i % 2 == 0, temporal = schedule == Schedule.STDIT || i % 2 == 1;
            if (spatial) perToken += 8 * c * c + 4.0 * tokenPatches() * c;
            if (temporal) perToken += 8 * c * c + 4.0 * tokenFrames() * c;
            perToken += 4 * c * c + 4.0 * contextTokens * c; // cross attention: q and o projections, scores and values
            perToken += 4 * c * mlpHidden;
        }
        double crossKv = (double) batch * depth * contextTokens * 4 * c * c; // k and v of the conditioning tokens
        return tokens * perToken + crossKv;
    }

    /** Blocks that attend over space: all of them for STDiT, the even ones for Latte. */
    public int spatialBlocks() {
        return schedule == Schedule.STDIT ? depth : (depth + 1) / 2;
    }
}
