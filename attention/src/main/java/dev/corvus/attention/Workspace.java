package dev.corvus.attention;

import java.util.Arrays;

/**
 * One thread's tiles: Q, K, V, dO, the score tile and its gradient, O / dQ / dK / dV
 * accumulators and per-row statistics. Reused across calls (grown when D grows), so the hot
 * loops allocate nothing.
 */
final class Workspace {
    private static final ThreadLocal<Workspace> LOCAL = ThreadLocal.withInitial(Workspace::new);

    int d = -1;
    float[] q, k, v, dO;      // [BR or BC, D]
    float[] s, dp, dt;        // [BR, BC]; dt: the soft-cap's derivative per score
    float[] o, dq;            // [BR, D]
    float[] dk, dv;           // [BC, D]
    float[] m, l, lse, delta; // [BR]
    float[] row;              // [D]

    /** This thread's workspace, sized for head dimension d. */
    static Workspace get(int d) {
        Workspace w = LOCAL.get();
        if (w.d != d) w.resize(d);
        return w;
    }

    private void resize(int dim) {
        int tile = Math.max(FlashKernels.BR, FlashKernels.BC) * Math.max(dim, 1);
        q = new float[tile];
        k = new float[tile];
        v = new float[tile];
        dO = new float[tile];
        o = new float[tile];
        dq = new float[tile];
        dk = new float[tile];
        dv = new float[tile];
        s = new float[FlashKernels.BR * FlashKernels.BC];
        dp = new float[FlashKernels.BR * FlashKernels.BC];
        dt = new float[FlashKernels.BR * FlashKernels.BC];
        int rows = Math.max(FlashKernels.BR, FlashKernels.BC);
        m = new float[rows];
        l = new float[rows];
        lse = new float[rows];
        delta = new float[rows];
        row = new float[Math.max(dim, 1)];
        d = dim;
    }

    static void zero(float[] a, int n) {
        Arrays.fill(a, 0, n, 0f);
    }
}
