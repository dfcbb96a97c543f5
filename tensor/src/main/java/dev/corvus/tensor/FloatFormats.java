package dev.corvus.tensor;

/**
 * Scalar conversions between float and the 16-bit formats, and the Q8_0 block codec.
 *
 * <p>Internal: public only for other Corvus modules; not supported API, may change in any release.
 */
public final class FloatFormats {
    private FloatFormats() {}

    public static float f16ToFloat(short h) {
        return Float.float16ToFloat(h);
    }

    public static short floatToF16(float f) {
        return Float.floatToFloat16(f);
    }

    public static float bf16ToFloat(short h) {
        return Float.intBitsToFloat((h & 0xffff) << 16);
    }

    /** Round to nearest even; NaN stays a (quiet) NaN. */
    public static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7fffffff) > 0x7f800000) return (short) ((bits >>> 16) | 0x0040);
        int rounded = bits + 0x7fff + ((bits >>> 16) & 1);
        return (short) (rounded >>> 16);
    }

    /** Q8_0 scale of a block: max |x| / 127, as llama.cpp computes it. */
    public static float q8Scale(float absMax) {
        return absMax / 127f;
    }

    /** Q8_0 quantized value of x with the inverse scale of its block (round half away from zero). */
    public static byte q8Quantize(float x, float inverseScale) {
        float v = Math.abs(x * inverseScale);
        int whole = (int) v;
        // v - whole is exact; adding 0.5f to v instead would round 0.49999997f up to 1.
        int q = Math.min(127, whole + (v - whole >= 0.5f ? 1 : 0));
        return (byte) (x < 0 ? -q : q);
    }
}
