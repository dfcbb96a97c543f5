package dev.corvus.tensor;

/** Reductions along one dimension. */
public enum ReduceOp {
    SUM, MEAN, MAX
}
