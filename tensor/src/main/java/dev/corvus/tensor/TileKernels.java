package dev.corvus.tensor;

/**
 * Small dense kernels on heap float arrays, for fused algorithms that keep their working tiles
 * in L1/L2 (flash attention packs Q, K, V tiles and runs these on them). Row-major, explicit
 * leading dimensions; each call is a whole tile, so the interface call costs nothing next to
 * the work. Every {@link Backend} offers one through {@link Backend#tiles()}.
 */
public interface TileKernels {
    /** C[m,n] = beta·C + A[m,k]·B[n,k]ᵀ. beta 0 ignores what C held (NaN included). */
    void gemmNT(int m, int n, int k, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
            float[] c, int cOff, int ldc, float beta);

    /** C[m,n] = beta·C + A[m,k]·B[k,n]. */
    void gemmNN(int m, int n, int k, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
            float[] c, int cOff, int ldc, float beta);

    /** C[m,n] = beta·C + A[k,m]ᵀ·B[k,n]. */
    void gemmTN(int m, int n, int k, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
            float[] c, int cOff, int ldc, float beta);

    /** Largest of x[off, off+n); -infinity when n is 0. */
    float max(float[] x, int off, int n);

    /** x[i] = exp(x[i] - shift) for i in [off, off+n), returning their sum. exp(-inf) is 0. */
    float expShiftSum(float[] x, int off, int n, float shift);

    /** y[i] = alpha·y[i] for i in [off, off+n). */
    void scale(float[] y, int off, int n, float alpha);
}
