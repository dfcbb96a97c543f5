package dev.corvus.hetero;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.Tensor;

/**
 * One linear layer as the cost model sees it: a weight of {@code outFeatures} rows of
 * {@code inFeatures} values in {@code dtype}, named for plans and logs ("layers.3.w1").
 */
public record LayerShape(String name, int outFeatures, int inFeatures, DType dtype) {
    public LayerShape {
        if (outFeatures <= 0 || inFeatures <= 0) {
            throw new IllegalArgumentException("layer " + name + ": a weight needs positive sizes, got [" + outFeatures + ", " + inFeatures + "]");
        }
        if (!dtype.isFloatingPoint() && dtype != DType.Q8_0) {
            throw new IllegalArgumentException("layer " + name + ": " + dtype + " is not a weight type (F32, F16, BF16 or Q8_0)");
        }
        dtype.byteSize(inFeatures); // Q8_0 rows must be whole blocks
    }

    /** The shape of a weight tensor [out, in]. */
    public static LayerShape of(String name, Tensor weight) {
        if (weight.rank() != 2) {
            throw new IllegalArgumentException("layer " + name + ": a weight is [out, in], got shape " + java.util.Arrays.toString(weight.shape()));
        }
        return new LayerShape(name, weight.size(0), weight.size(1), weight.dtype());
    }

    /** Bytes of one output row of the weight. */
    public long rowBytes() {
        return dtype.byteSize(inFeatures);
    }

    /** Bytes of the whole weight. */
    public long bytes() {
        return rowBytes() * outFeatures;
    }

    /** Multiply-adds times two for {@code m} input rows. */
    public double flops(int m) {
        return 2.0 * m * outFeatures * inFeatures;
    }
}
