package dev.corvus.tensor;

/**
 * cos and sin of the rotation angle pos * frequency[i] for positions [offset, offset+positions)
 * and pair i &lt; d/2, row-major [positions, d/2], both times a magnitude (1 but for RoPE-scaled
 * models that fold an attention factor into it). Computed once per call in double precision and
 * shared by every backend, so backends differ only in how they apply it.
 */
public record RopeTable(float[] cos, float[] sin, int positions, int halfDim) {
    /** Plain RoPE: frequency[i] = theta^(-2i/d). */
    public static RopeTable of(int positionOffset, int positions, int headDim, double theta) {
        if (headDim % 2 != 0) throw new IllegalArgumentException("rope: head dimension " + headDim + " is odd");
        return of(positionOffset, positions, frequencies(headDim, theta, 1, null), 1);
    }

    /** A table for the given per-pair angular frequencies (radians per position), scaled by {@code magnitude}. */
    public static RopeTable of(int positionOffset, int positions, double[] frequencies, double magnitude) {
        int half = frequencies.length;
        float[] cos = new float[positions * half];
        float[] sin = new float[positions * half];
        for (int p = 0; p < positions; p++) {
            for (int i = 0; i < half; i++) {
                double angle = (double) (positionOffset + p) * frequencies[i];
                cos[p * half + i] = (float) (Math.cos(angle) * magnitude);
                sin[p * half + i] = (float) (Math.sin(angle) * magnitude);
            }
        }
        return new RopeTable(cos, sin, positions, half);
    }

    /**
     * The d/2 frequencies scale · theta^(-2i/d) / factors[i]: {@code scale} is linear position
     * interpolation (1 / the scaling factor; 1 for none) and {@code factors} per-pair divisors
     * such as Llama 3's rope_freqs or Phi-3's long/short factors (null for none).
     */
    public static double[] frequencies(int headDim, double theta, double scale, float[] factors) {
        if (headDim <= 0 || headDim % 2 != 0) throw new IllegalArgumentException("rope: head dimension " + headDim + " must be positive and even");
        if (!(theta > 0) || Double.isInfinite(theta)) throw new IllegalArgumentException("rope: theta " + theta + " must be a positive number");
        if (!(scale > 0) || Double.isInfinite(scale)) throw new IllegalArgumentException("rope: scale " + scale + " must be a positive number");
        int half = headDim / 2;
        if (factors != null && factors.length != half) {
            throw new IllegalArgumentException("rope: " + factors.length + " frequency factors for head dimension " + headDim + ", expected " + half);
        }
        double[] f = new double[half];
        for (int i = 0; i < half; i++) {
            double factor = factors == null ? 1 : factors[i];
            if (!(factor > 0) || Double.isInfinite(factor)) throw new IllegalArgumentException("rope: frequency factor " + i + " is " + factor + ", expected a positive number");
            f[i] = scale * Math.pow(theta, -2.0 * i / headDim) / factor;
        }
        return f;
    }
}
