package dev.corvus.model;

import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the next token from logits. Greedy (argmax) at temperature 0. {@link #of(float, float, long)}
 * samples as llama2.c does: softmax(logits / temperature), then nucleus (top-p) sampling when
 * 0 &lt; topP &lt; 1, or sampling from the whole distribution. {@link #of(float, float, int, float, long)}
 * filters as llama.cpp's default chain does: top-k, then top-p, then min-p, each on the logits as
 * they are (temperature 1), then one draw at the temperature from the tokens left. The random
 * source is seeded, so a seed reproduces a run.
 */
public final class Sampler {
    private final float temperature;
    private final float topP;
    private final int topK;
    private final float minP;
    /** llama2.c's top-p (mass strictly above topP, computed at the temperature; 0 keeps all) rather than llama.cpp's chain. */
    private final boolean llama2cNucleus;
    private final SplittableRandom random;

    private Sampler(float temperature, float topP, int topK, float minP, boolean llama2cNucleus, long seed) {
        if (!(temperature >= 0) || Float.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number >= 0, got " + temperature);
        }
        if (!(topP >= 0 && topP <= 1)) throw new IllegalArgumentException("top-p must be in [0, 1], got " + topP);
        if (topK < 0) throw new IllegalArgumentException("top-k must be >= 0 (0 keeps every token), got " + topK);
        if (!(minP >= 0 && minP <= 1)) throw new IllegalArgumentException("min-p must be in [0, 1], got " + minP);
        this.temperature = temperature;
        this.topP = topP;
        this.topK = topK;
        this.minP = minP;
        this.llama2cNucleus = llama2cNucleus;
        this.random = new SplittableRandom(seed);
    }

    /** Always the most likely token (the first one on ties). */
    public static Sampler greedy() {
        return new Sampler(0, 1, 0, 0, true, 0);
    }

    /**
     * Temperature 0 is greedy. topP in (0, 1) keeps the smallest set of most likely tokens whose
     * probability reaches topP; 0 or 1 keeps all.
     */
    public static Sampler of(float temperature, float topP, long seed) {
        return new Sampler(temperature, topP, 0, 0, true, seed);
    }

    /**
     * llama.cpp's filters, in its order, on the logits before the temperature: {@code topK} keeps
     * the k most likely tokens (0 keeps all; ties go to the lower id); {@code topP} then keeps the
     * shortest run of the most likely of those whose probability among them reaches topP (1 keeps
     * all, 0 only the most likely); {@code minP} then drops tokens less likely than minP times the
     * most likely one (0 keeps all). One token is drawn from the rest at {@code temperature}
     * (0: greedy, the filters cannot change the argmax). With no filter active this draws exactly
     * as {@link #of(float, float, long)} with topP 1.
     */
    public static Sampler of(float temperature, float topP, int topK, float minP, long seed) {
        return new Sampler(temperature, topP, topK, minP, false, seed);
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
        if (!llama2cNucleus && filters(logits.length)) return sampleFiltered(logits, random.nextDouble());
        double[] p = softmax(logits, temperature);
        double coin = random.nextDouble();
        return llama2cNucleus && topP > 0 && topP < 1 ? sampleTopP(p, topP, coin) : sampleAll(p, coin);
    }

    /** Whether llama.cpp's chain would drop any token of a vocabulary of {@code n}. */
    private boolean filters(int n) {
        return (topK > 0 && topK < n) || topP < 1 || minP > 0;
    }

    private int sampleFiltered(float[] logits, double coin) {
        return chain(logits, temperature, topP, topK, minP, coin);
    }

    /**
     * llama.cpp's chain: on the tokens sorted by logit every filter keeps a prefix, so each only
     * shortens {@code kept}; {@code coin} in [0, 1) picks the token. Only tokens that can survive
     * are sorted: top-k selects its k in linear time, min-p's floor is known from the maximum
     * alone, and a token of the top-p nucleus has probability above (1 - topP) / (m - 1) among the
     * m tokens top-k kept (the ones after it, at most m - 1 and none likelier, hold more than
     * 1 - topP together). Measured on 32K Gaussian logits (sd 3, 2 loaded cores): sorting the whole
     * vocabulary as packed (logit, id) longs cost 0.35 ms a token for top-k 40 or min-p 0.05 and
     * 0.54 for top-p 0.9; pruning first, 0.25, 0.11 and 0.41.
     */
    static int chain(float[] logits, float temperature, float topP, int topK, float minP, double coin) {
        int n = logits.length;
        long[] keys = new long[n];
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            keys[i] = descendingKey(logits[i], i);
            max = Math.max(max, logits[i]);
        }
        int m = n;
        if (topK > 0 && topK < n) {
            selectSmallest(keys, topK);
            m = topK;
        }
        double mass = 0; // of the m tokens at temperature 1, relative to the most likely; only top-p needs it
        if (topP < 1) for (int i = 0; i < m; i++) mass += Math.exp(logits[idOf(keys[i])] - max);
        double floor = minP > 0 ? max + Math.log(minP) : Double.NEGATIVE_INFINITY;
        if (topP < 1 && m > 1) floor = Math.max(floor, max + Math.log((1.0 - topP) / (m - 1) * mass));
        int candidates = 0;
        for (int i = 0; i < m; i++) {
            float l = logits[idOf(keys[i])];
            if (l >= floor || l == max) keys[candidates++] = keys[i];
        }
        Arrays.sort(keys, 0, candidates);
        int kept = candidates;
        if (topP < 1) {
            double cumulative = 0;
            for (int i = 0; i < candidates; i++) {
                cumulative += Math.exp(logits[idOf(keys[i])] - max) / mass;
                if (cumulative >= topP) {
                    kept = i + 1;
                    break;
                }
            }
        }
        if (minP > 0) {
            // p_i >= minP * p_max, in logits: the normalisation cancels
            double minLogit = max + Math.log(minP);
            int i = 1;
            while (i < kept && logits[idOf(keys[i])] >= minLogit) i++;
            kept = i;
        }
        double[] p = new double[kept];
        double sum = 0;
        for (int i = 0; i < kept; i++) sum += p[i] = Math.exp((logits[idOf(keys[i])] - max) / temperature);
        double r = coin * sum, cdf = 0;
        for (int i = 0; i < kept; i++) {
            cdf += p[i];
            if (r < cdf) return idOf(keys[i]);
        }
        return idOf(keys[kept - 1]); // rounding
    }

    /** Reorders {@code keys} (distinct) so that keys[0, k) are its k smallest, in no particular order: quickselect. */
    static void selectSmallest(long[] keys, int k) {
        int lo = 0, hi = keys.length - 1, target = k - 1;
        while (lo < hi) {
            long a = keys[lo], b = keys[(lo + hi) >>> 1], c = keys[hi];
            long pivot = Math.max(Math.min(a, b), Math.min(Math.max(a, b), c)); // median of three
            int i = lo, j = hi;
            while (i <= j) {
                while (keys[i] < pivot) i++;
                while (keys[j] > pivot) j--;
                if (i <= j) {
                    long t = keys[i];
                    keys[i++] = keys[j];
                    keys[j--] = t;
                }
            }
            // now [lo, j] <= pivot <= [i, hi], and anything between equals the pivot
            if (target <= j) hi = j;
            else if (target >= i) lo = i;
            else return;
        }
    }

    /** A key whose ascending order is descending logit, ties by ascending id (the high half orders, the low half is the id). */
    private static long descendingKey(float logit, int id) {
        int bits = Float.floatToIntBits(logit);
        int ordered = bits ^ ((bits >> 31) & 0x7fffffff); // signed-int order equals float order (finite values, -0 below +0)
        return ((long) ~ordered << 32) | id;
    }

    private static int idOf(long key) {
        return (int) key;
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
        if (isGreedy()) return "greedy";
        if (llama2cNucleus) return "temperature " + temperature + (topP > 0 && topP < 1 ? ", top-p " + topP : "");
        return "temperature " + temperature + (topK > 0 ? ", top-k " + topK : "") + (topP < 1 ? ", top-p " + topP : "")
                + (minP > 0 ? ", min-p " + minP : "");
    }
}
