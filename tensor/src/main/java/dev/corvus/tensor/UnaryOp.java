package dev.corvus.tensor;

/** Element-wise unary operations; {@link #apply} is the scalar definition every backend must match. */
public enum UnaryOp {
    EXP, SILU, RELU, NEG, TANH,
    /** GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
    GELU_TANH,
    /** GELU, exact form: 0.5 x (1 + erf(x / sqrt 2)). */
    GELU_ERF;

    private final String label = name().toLowerCase(java.util.Locale.ROOT);

    /** The lower-case name ops and errors use, e.g. "silu". */
    public String label() {
        return label;
    }

    static final double SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

    public float apply(float x) {
        return switch (this) {
            case EXP -> (float) Math.exp(x);
            case SILU -> (float) (x / (1 + Math.exp(-x)));
            case RELU -> Math.max(x, 0f);
            case NEG -> -x;
            case TANH -> (float) Math.tanh(x);
            case GELU_TANH -> (float) (0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * (double) x * x))));
            case GELU_ERF -> (float) (0.5 * x * (1 + erf(x / Math.sqrt(2))));
        };
    }

    /**
     * erf in double precision (the JDK has none): Taylor series near zero, the continued fraction
     * of erfc beyond; both converge to well under float precision.
     */
    public static double erf(double x) {
        double ax = Math.abs(x);
        if (ax < 2.5) {
            // erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
            double term = ax, sum = ax, x2 = ax * ax;
            for (int n = 1; n < 60; n++) {
                term *= -x2 / n;
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
            }
            return Math.copySign(Math.min(1.0, 2 / Math.sqrt(Math.PI) * sum), x);
        }
        if (ax > 6) return Math.copySign(1.0, x);
        // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...)))) (Lentz-free backward evaluation)
        double f = ax;
        for (int n = 60; n >= 1; n--) f = ax + (n / 2.0) / f;
        double erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
        return Math.copySign(1 - erfc, x);
    }
}
