package dev.corvus.model;

import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;

/**
 * How the forward pass multiplies by a weight matrix: y = x · wᵀ for x [T, in] and a weight w
 * [out, in] of the model's {@link LlamaWeights}. The default is {@link Ops#linear}; HeteGen
 * (corvus-hetero) supplies one that splits each matrix between the CPU and a device, or keeps it
 * resident on the device, and recognises the matrix by the weight tensor it is given.
 */
@FunctionalInterface
public interface Linear {
    /** {@code Ops.linear(x, w, null)} on whatever device the operands are. */
    Linear OPS = (x, w) -> Ops.linear(x, w, null);

    /** x [T, in] times wᵀ: [T, out], on x's device. */
    Tensor apply(Tensor x, Tensor w);
}
