package dev.corvus.model;

import dev.corvus.tensor.MemoryScope;
import java.util.Arrays;
import java.util.Objects;
import java.util.function.DoubleConsumer;

/**
 * Teacher-forced evaluation of a model on known text: the logits at every position, and
 * perplexity computed as llama.cpp's {@code llama-perplexity} computes it, so the two numbers
 * compare directly.
 */
public final class Scoring {
    private Scoring() {}

    /**
     * The logits [T][vocab] at every position of {@code tokens}: row i predicts token i + 1.
     * Runs the tokens as one prefill ({@link LlamaModel#forwardAll}); that prefill and token-by-token
     * decoding agree is checked per architecture in the model tests. The conformance tests and
     * {@code corvus logits} get their logits here.
     */
    public static float[][] logits(LlamaModel model, int[] tokens) {
        Objects.requireNonNull(model, "model");
        if (tokens.length == 0) throw new IllegalArgumentException("logits: no tokens given");
        float[][] out = new float[tokens.length][];
        try (LlamaModel.KvCache cache = model.newCache(tokens.length);
                MemoryScope step = MemoryScope.open("scoring.logits")) {
            float[] all = model.forwardAll(tokens, 0, cache).toFloatArray();
            int vocab = model.config().vocabSize();
            for (int i = 0; i < tokens.length; i++) out[i] = Arrays.copyOfRange(all, i * vocab, (i + 1) * vocab);
        }
        return out;
    }

    /**
     * Perplexity and its standard error.
     *
     * @param ppl        exp of the mean negative log-likelihood of the scored tokens
     * @param stderr     llama-perplexity's "+/-": the standard error of the mean NLL times ppl
     * @param chunks     windows of {@code nCtx} tokens evaluated
     * @param scored     tokens scored (the second half of each window but its last position)
     * @param runningPpl the estimate after each chunk, as llama-perplexity prints it
     */
    public record Perplexity(double ppl, double stderr, int chunks, int scored, double[] runningPpl) {}

    /**
     * llama-perplexity's method: the tokens (BOS first, as the tokenizer adds it) are cut into
     * {@code tokens.length / nCtx} chunks of {@code nCtx}; each chunk is evaluated from an empty
     * cache with its first token replaced by {@code bos}, and only the predictions from position
     * {@code nCtx / 2} to {@code nCtx - 2} count (the model always has half a window of context).
     * The negative log-likelihood is accumulated in double, the softmax shifted by the row's
     * maximum. {@code onChunk} gets the running estimate after each chunk.
     *
     * @param bos the token each chunk starts with, or -1 to keep the chunk's own first token (a
     *            vocabulary without BOS)
     */
    public static Perplexity perplexity(LlamaModel model, int[] tokens, int nCtx, int bos, DoubleConsumer onChunk) {
        Objects.requireNonNull(model, "model");
        if (nCtx < 4) throw new IllegalArgumentException("perplexity: context " + nCtx + " is too small (at least 4 tokens)");
        if (nCtx > model.config().seqLen()) {
            throw new IllegalArgumentException("perplexity: context " + nCtx + " exceeds the model's context length " + model.config().seqLen());
        }
        if (tokens.length < 2 * nCtx) {
            throw new IllegalArgumentException("perplexity: the text tokenizes to " + tokens.length + " tokens; a context of " + nCtx
                    + " needs at least " + 2 * nCtx + " (use a longer text or a smaller context)");
        }
        int chunks = tokens.length / nCtx, first = nCtx / 2, vocab = model.config().vocabSize();
        double nll = 0, nll2 = 0;
        int count = 0;
        double[] running = new double[chunks];
        try (LlamaModel.KvCache cache = model.newCache(nCtx)) {
            for (int c = 0; c < chunks; c++) {
                int[] chunk = Arrays.copyOfRange(tokens, c * nCtx, (c + 1) * nCtx);
                if (bos >= 0) chunk[0] = bos;
                cache.truncate(0);
                // the whole chunk as one batch, as llama-perplexity evaluates it; rows from
                // position `first` on are scored
                try (MemoryScope step = MemoryScope.open("perplexity.chunk")) {
                    float[] all = model.forwardAll(Arrays.copyOf(chunk, nCtx - 1), 0, cache).toFloatArray();
                    for (int i = first; i < nCtx - 1; i++) {
                        double v = negativeLogLikelihood(Arrays.copyOfRange(all, i * vocab, (i + 1) * vocab), chunk[i + 1]);
                        nll += v;
                        nll2 += v * v;
                    }
                }
                count += nCtx - first - 1;
                running[c] = Math.exp(nll / count);
                if (onChunk != null) onChunk.accept(running[c]);
            }
        }
        double mean = nll / count, ppl = Math.exp(mean);
        double var = nll2 / count - mean * mean;
        double stderr = var > 0 ? Math.sqrt(var / (count - 1)) * ppl : 0;
        return new Perplexity(ppl, stderr, chunks, count, running);
    }

    /** -log softmax(row)[token], shifted by the maximum; exponentials in float, their sum in double (as llama.cpp). */
    static double negativeLogLikelihood(float[] row, int token) {
        float max = row[0];
        for (float v : row) max = Math.max(max, v);
        double sum = 0;
        for (float v : row) sum += (float) Math.exp(v - max);
        return max + Math.log(sum) - row[token];
    }
}
