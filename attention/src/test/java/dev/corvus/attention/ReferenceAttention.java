package dev.corvus.attention;

/**
 * Materialised attention in double precision, the oracle for {@link FlashAttention}: per (b, h)
 * the whole score matrix S = scale·Q·Kᵀ (optionally soft-capped) with the {@link Mask} rule
 * (sliding windows included), softmax, O = P·V and lse;
 * gradients by the textbook formulas (dV = Pᵀ·dO, dP = dO·Vᵀ, dS = P ∘ (dP - rowsum(P ∘ dP)),
 * times 1 - tanh² of the capped score under soft-capping, dQ = scale·dS·K, dK = scale·dSᵀ·Q). Arrays are row-major [B, H, N, D] and [B, H, N].
 */
final class ReferenceAttention {
    private ReferenceAttention() {}

    record Shape(int batch, int hq, int hkv, int nq, int nk, int d) {
        int kvHead(int h) {
            return h / (hq / hkv);
        }
    }

    record Forward(double[] out, double[] lse) {}

    record Grads(double[] dq, double[] dk, double[] dv) {}

    /** Row-softmax probabilities of head (b, h): [nq, nk], masked entries 0, rows that see no key all 0. */
    static double[] probabilities(Shape s, float[] q, float[] k, int b, int h, Mask mask, float scale) {
        return probabilities(s, q, k, b, h, mask, scale, 0f);
    }

    /** As above with soft-capped scores. */
    static double[] probabilities(Shape s, float[] q, float[] k, int b, int h, Mask mask, float scale, float softcap) {
        int kvh = s.kvHead(h);
        double[] p = new double[s.nq() * s.nk()];
        for (int i = 0; i < s.nq(); i++) {
            double max = Double.NEGATIVE_INFINITY;
            double[] row = new double[s.nk()];
            for (int j = 0; j < s.nk(); j++) {
                if (!mask.visible(mask.queryStart() + i, mask.keyStart() + j)) {
                    row[j] = Double.NEGATIVE_INFINITY;
                    continue;
                }
                double dot = 0;
                for (int c = 0; c < s.d(); c++) dot += (double) q[idx(s, s.hq(), s.nq(), b, h, i, c)] * k[idx(s, s.hkv(), s.nk(), b, kvh, j, c)];
                row[j] = softcap == 0f ? scale * dot : softcap * Math.tanh(scale * dot / softcap);
                max = Math.max(max, row[j]);
            }
            if (max == Double.NEGATIVE_INFINITY) continue;
            double sum = 0;
            for (int j = 0; j < s.nk(); j++) sum += row[j] == Double.NEGATIVE_INFINITY ? 0 : Math.exp(row[j] - max);
            for (int j = 0; j < s.nk(); j++) {
                p[i * s.nk() + j] = row[j] == Double.NEGATIVE_INFINITY ? 0 : Math.exp(row[j] - max) / sum;
            }
        }
        return p;
    }

    static Forward forward(Shape s, float[] q, float[] k, float[] v, Mask mask, float scale) {
        return forward(s, q, k, v, mask, scale, 0f);
    }

    /** As above with soft-capped scores cap · tanh(scale·q·k / cap) (cap 0: none). */
    static Forward forward(Shape s, float[] q, float[] k, float[] v, Mask mask, float scale, float softcap) {
        double[] out = new double[s.batch() * s.hq() * s.nq() * s.d()];
        double[] lse = new double[s.batch() * s.hq() * s.nq()];
        for (int b = 0; b < s.batch(); b++) {
            for (int h = 0; h < s.hq(); h++) {
                int kvh = s.kvHead(h);
                for (int i = 0; i < s.nq(); i++) {
                    double max = Double.NEGATIVE_INFINITY;
                    double[] row = new double[s.nk()];
                    for (int j = 0; j < s.nk(); j++) {
                        if (!mask.visible(mask.queryStart() + i, mask.keyStart() + j)) {
                            row[j] = Double.NEGATIVE_INFINITY;
                            continue;
                        }
                        double dot = 0;
                        for (int c = 0; c < s.d(); c++) dot += (double) q[idx(s, s.hq(), s.nq(), b, h, i, c)] * k[idx(s, s.hkv(), s.nk(), b, kvh, j, c)];
                        row[j] = softcap == 0f ? scale * dot : softcap * Math.tanh(scale * dot / softcap);
                        max = Math.max(max, row[j]);
                    }
                    int r = (b * s.hq() + h) * s.nq() + i;
                    if (max == Double.NEGATIVE_INFINITY) {
                        lse[r] = Double.NEGATIVE_INFINITY;
                        continue;
                    }
                    double sum = 0;
                    for (int j = 0; j < s.nk(); j++) if (row[j] != Double.NEGATIVE_INFINITY) sum += Math.exp(row[j] - max);
                    lse[r] = max + Math.log(sum);
                    for (int j = 0; j < s.nk(); j++) {
                        if (row[j] == Double.NEGATIVE_INFINITY) continue;
                        double p = Math.exp(row[j] - max) / sum;
                        for (int c = 0; c < s.d(); c++) out[r * s.d() + c] += p * v[idx(s, s.hkv(), s.nk(), b, kvh, j, c)];
                    }
                }
            }
        }
        return new Forward(out, lse);
    }

    static Grads backward(Shape s, float[] q, float[] k, float[] v, float[] dOut, Mask mask, float scale) {
        return backward(s, q, k, v, dOut, mask, scale, 0f);
    }

    /** As above with soft-capped scores: dS of the uncapped score is dS · (1 - tanh²(scale·q·k / cap)). */
    static Grads backward(Shape s, float[] q, float[] k, float[] v, float[] dOut, Mask mask, float scale, float softcap) {
        double[] dq = new double[s.batch() * s.hq() * s.nq() * s.d()];
        double[] dk = new double[s.batch() * s.hkv() * s.nk() * s.d()];
        double[] dv = new double[dk.length];
        int nq = s.nq(), nk = s.nk(), d = s.d();
        for (int b = 0; b < s.batch(); b++) {
            for (int h = 0; h < s.hq(); h++) {
                int kvh = s.kvHead(h);
                double[] p = probabilities(s, q, k, b, h, mask, scale, softcap);
                double[] dp = new double[nq * nk];
                for (int i = 0; i < nq; i++) {
                    for (int j = 0; j < nk; j++) {
                        double acc = 0;
                        for (int c = 0; c < d; c++) acc += (double) dOut[idx(s, s.hq(), nq, b, h, i, c)] * v[idx(s, s.hkv(), nk, b, kvh, j, c)];
                        dp[i * nk + j] = acc;
                    }
                }
                for (int i = 0; i < nq; i++) {
                    double rowDot = 0;
                    for (int j = 0; j < nk; j++) rowDot += p[i * nk + j] * dp[i * nk + j];
                    for (int j = 0; j < nk; j++) {
                        double pij = p[i * nk + j];
                        double ds = pij * (dp[i * nk + j] - rowDot);
                        if (softcap != 0f && pij != 0) {
                            double dot = 0;
                            for (int c = 0; c < d; c++) dot += (double) q[idx(s, s.hq(), nq, b, h, i, c)] * k[idx(s, s.hkv(), nk, b, kvh, j, c)];
                            double t = Math.tanh(scale * dot / softcap);
                            ds *= 1 - t * t;
                        }
                        for (int c = 0; c < d; c++) {
                            int qi = idx(s, s.hq(), nq, b, h, i, c), kj = idx(s, s.hkv(), nk, b, kvh, j, c);
                            dv[kj] += pij * dOut[qi];
                            dq[qi] += scale * ds * k[kj];
                            dk[kj] += scale * ds * q[qi];
                        }
                    }
                }
            }
        }
        return new Grads(dq, dk, dv);
    }

    private static int idx(Shape s, int heads, int n, int b, int h, int i, int c) {
        return ((b * heads + h) * n + i) * s.d() + c;
    }
}
