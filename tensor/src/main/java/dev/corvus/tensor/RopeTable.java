package dev.corvus.tensor;

/**
 * cos and sin of the rotation angle pos * theta^(-2i/d) for positions [offset, offset+positions)
 * and pair i < d/2, row-major [positions, d/2]. Computed once per call in double precision and
 * shared by every backend, so backends differ only in how they apply it.
 */
public record RopeTable(float[] cos, float[] sin, int positions, int halfDim) {
    public static RopeTable of(int positionOffset, int positions, int headDim, double theta) {
        if (headDim % 2 != 0) throw new IllegalArgumentException("rope: head dimension " + headDim + " is odd");
        int half = headDim / 2;
        float[] cos = new float[positions * half];
        float[] sin = new float[positions * half];
        for (int p = 0; p < positions; p++) {
            for (int i = 0; i < half; i++) {
                double angle = (positionOffset + p) * Math.pow(theta, -2.0 * i / headDim);
                cos[p * half + i] = (float) Math.cos(angle);
                sin[p * half + i] = (float) Math.sin(angle);
            }
        }
        return new RopeTable(cos, sin, positions, half);
    }
}
