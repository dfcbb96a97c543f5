package dev.corvus.model;

import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the next token from logits, as llama2.c does: greedy (argmax) at temperature 0; else
 * softmax(logits / temperature), then nucleus (top-p) sampling when 0 &lt; topP &lt; 1, or sampling
 * from the whole distribution. The random source is seeded, so a seed reproduces a run.
 */
public final class Sampler {
    private final float temperature;
    private final float topP;
    private final SplittableRandom random;

    private Sampler(float temperature, float topP, long seed) {
        if (!(temperature >= 0) || Float.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number >= 0, got " + temperature);
        }
        if (!(topP >= 0 && topP <= 1)) throw new IllegalArgumentException("top-p must be in [0, 1], got " + topP);
        this.temperature = temperature;
        this.topP = topP;
        this.random = new SplittableRandom(seed);
    }

    /** Always the most likely token (the first one on ties). */
    public static Sampler greedy() {
        return new Sampler(0, 1, 0);
    }

    /**
     * Temperature 0 is greedy. topP in (0, 1) keeps the smallest set of most likely tokens whose
     * probability reaches topP; 0 or 1 keeps all.
     */
    public static Sampler of(float temperature, float topP, long seed) {
        return new Sampler(temperature, topP, seed);
    }

    public boolean isGreedy() {
        return temperature == 0;
    }

    /**
     * Logits no token can be chosen from: a NaN or +infinity among them, or every one -infinity.
     * Without this check greedy decoding picks token 0 forever and sampling fails on an empty
     * nucleus.
     */
    public static final class NonFiniteLogitsException extends ArithmeticException {
        private static final long serialVersionUID = 1L;

        public NonFiniteLogitsException(String message) {
            super(message);
        }
    }

    /** The next token for logits [vocab] (or [1, vocab]); throws {@link NonFiniteLogitsException} for NaN or infinite logits. */
    public int sample(Tensor logits) {
        if (isGreedy()) {
            int best = (int) Ops.argmax(logits, -1).item();
            // argmax returns the first NaN when there is one, so the winner alone shows a NaN or +inf
            // anywhere (and -inf when all are); the full scan runs only to word the error
            int[] at = new int[logits.rank()];
            at[at.length - 1] = best;
            if (!Float.isFinite(logits.get(at))) checkFinite(logits.toFloatArray());
            return best;
        }
        return sample(logits.toFloatArray());
    }

    /** The next token for the given logits; throws {@link NonFiniteLogitsException} for NaN or infinite logits. */
    public int sample(float[] logits) {
        if (logits.length == 0) throw new IllegalArgumentException("sample: no logits");
        checkFinite(logits);
        if (isGreedy()) return argmax(logits);
        double[] p = softmax(logits, temperature);
        double coin = random.nextDouble();
        return topP > 0 && topP < 1 ? sampleTopP(p, topP, coin) : sampleAll(p, coin);
    }

    /** Throws when no token can be chosen: a NaN or +infinity anywhere, or only -infinity. -infinity beside finite values masks a token and is fine. */
    static void checkFinite(float[] x) {
        int nan = 0, posInf = 0, negInf = 0, first = -1;
        for (int i = 0; i < x.length; i++) {
            float v = x[i];
            if (Float.isFinite(v)) continue;
            if (Float.isNaN(v)) nan++;
            else if (v > 0) posInf++;
            else {
                negInf++;
                continue;
            }
            if (first < 0) first = i;
        }
        if (nan == 0 && posInf == 0 && negInf < x.length) return;
        StringBuilder what = new StringBuilder();
        if (nan > 0) what.append(nan).append(" NaN");
        if (posInf > 0) what.append(what.isEmpty() ? "" : ", ").append(posInf).append(" +infinity");
        if (nan == 0 && posInf == 0) what.append("all -infinity");
        throw new NonFiniteLogitsException("the model produced non-finite logits (" + what + " of " + x.length
                + (first >= 0 ? ", the first at token " + first : "") + "), so no token can be chosen;"
                + " the weights may be damaged or the computation overflowed");
    }

    static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    static double[] softmax(float[] logits, float temperature) {
        double max = Double.NEGATIVE_INFINITY;
        for (float v : logits) max = Math.max(max, v);
        double[] p = new double[logits.length];
        double sum = 0;
        for (int i = 0; i < p.length; i++) {
            p[i] = Math.exp((logits[i] - max) / temperature);
            sum += p[i];
        }
        for (int i = 0; i < p.length; i++) p[i] /= sum;
        return p;
    }

    /** Inverse-CDF sampling over all tokens. */
    static int sampleAll(double[] p, double coin) {
        double cdf = 0;
        for (int i = 0; i < p.length; i++) {
            cdf += p[i];
            if (coin < cdf) return i;
        }
        return p.length - 1; // rounding
    }

    /**
     * Nucleus sampling: sort by probability (descending; ties by id), keep the shortest prefix
     * whose mass exceeds topP, sample within it. Tokens below (1 - topP) / (n - 1) can never be
     * in the nucleus and are dropped before sorting (llama2.c's shortcut).
     */
    static int sampleTopP(double[] p, float topP, double coin) {
        int n = p.length;
        double cutoff = n > 1 ? (1.0 - topP) / (n - 1) : 0;
        Integer[] ids = new Integer[n];
        int count = 0;
        for (int i = 0; i < n; i++) if (p[i] >= cutoff) ids[count++] = i;
        ids = Arrays.copyOf(ids, count);
        Arrays.sort(ids, (a, b) -> p[a] != p[b] ? Double.compare(p[b], p[a]) : Integer.compare(a, b));
        double mass = 0;
        int last = count - 1;
        for (int i = 0; i < count; i++) {
            mass += p[ids[i]];
            if (mass > topP) {
                last = i;
                break;
            }
        }
        double r = coin * mass, cdf = 0;
        for (int i = 0; i <= last; i++) {
            cdf += p[ids[i]];
            if (r < cdf) return ids[i];
        }
        return ids[last];
    }

    @Override
    public String toString() {
        return isGreedy() ? "greedy" : "temperature " + temperature + (topP > 0 && topP < 1 ? ", top-p " + topP : "");
    }
}
