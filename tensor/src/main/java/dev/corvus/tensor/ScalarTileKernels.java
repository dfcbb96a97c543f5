package dev.corvus.tensor;

/** The reference tile kernels: plain loops, double accumulation in the products. */
final class ScalarTileKernels implements TileKernels {
    static final ScalarTileKernels INSTANCE = new ScalarTileKernels();

    @Override
    public void gemmNT(int m, int n, int k, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
            float[] c, int cOff, int ldc, float beta) {
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double acc = 0;
                for (int p = 0; p < k; p++) acc += (double) a[aOff + i * lda + p] * b[bOff + j * ldb + p];
                int ci = cOff + i * ldc + j;
                c[ci] = (float) (beta == 0 ? acc : beta * c[ci] + acc);
            }
        }
    }

    @Override
    public void gemmNN(int m, int n, int k, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
            float[] c, int cOff, int ldc, float beta) {
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double acc = 0;
                for (int p = 0; p < k; p++) acc += (double) a[aOff + i * lda + p] * b[bOff + p * ldb + j];
                int ci = cOff + i * ldc + j;
                c[ci] = (float) (beta == 0 ? acc : beta * c[ci] + acc);
            }
        }
    }

    @Override
    public void gemmTN(int m, int n, int k, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
            float[] c, int cOff, int ldc, float beta) {
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double acc = 0;
                for (int p = 0; p < k; p++) acc += (double) a[aOff + p * lda + i] * b[bOff + p * ldb + j];
                int ci = cOff + i * ldc + j;
                c[ci] = (float) (beta == 0 ? acc : beta * c[ci] + acc);
            }
        }
    }

    @Override
    public float max(float[] x, int off, int n) {
        float m = Float.NEGATIVE_INFINITY;
        for (int i = off; i < off + n; i++) m = Math.max(m, x[i]);
        return m;
    }

    @Override
    public float expShiftSum(float[] x, int off, int n, float shift) {
        double sum = 0;
        for (int i = off; i < off + n; i++) {
            x[i] = (float) Math.exp(x[i] - shift);
            sum += x[i];
        }
        return (float) sum;
    }

    @Override
    public void scale(float[] y, int off, int n, float alpha) {
        for (int i = off; i < off + n; i++) y[i] *= alpha;
    }
}
