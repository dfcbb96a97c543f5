package dev.corvus.tensor.op;

import dev.corvus.tensor.DType;

/**
 * What an op definition reads of an operand to check it and infer its output: dtype, shape and
 * strides. A {@link dev.corvus.tensor.Tensor} is one (eager execution); a traced graph's node is
 * another (the same checks, no memory).
 */
public interface Operand {
    DType dtype();

    /** The shape; a fresh array the caller may change. */
    int[] shape();

    /** Element strides; a fresh array the caller may change. */
    long[] strides();

    int rank();

    /** Size of dimension {@code dim}; negative dims count from the end. */
    int size(int dim);

    long numel();
}
