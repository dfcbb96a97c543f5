package dev.corvus.vector;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.BinaryOp;
import dev.corvus.tensor.ReduceOp;
import dev.corvus.tensor.RopeStyle;
import dev.corvus.tensor.RopeTable;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.UnaryOp;

/** SKELETON: being written. */
final class VectorBackend implements Backend {
    @Override public String name() { return "vector"; }
    @Override public String description() { return "Vector API kernels, " + VectorShapes.describe(); }
    @Override public void copy(Tensor src, Tensor dst) { throw new UnsupportedOperationException(); }
    @Override public void matmul(Tensor a, Tensor b, Tensor out) { throw new UnsupportedOperationException(); }
    @Override public void binary(BinaryOp op, Tensor a, Tensor b, Tensor out) { throw new UnsupportedOperationException(); }
    @Override public void unary(UnaryOp op, Tensor x, Tensor out) { throw new UnsupportedOperationException(); }
    @Override public void scale(Tensor x, float factor, Tensor out) { throw new UnsupportedOperationException(); }
    @Override public void softmax(Tensor x, Tensor out, int queries, boolean causal, boolean log) { throw new UnsupportedOperationException(); }
    @Override public void rmsnorm(Tensor x, Tensor weight, float eps, Tensor out) { throw new UnsupportedOperationException(); }
    @Override public void layernorm(Tensor x, Tensor weight, Tensor bias, float eps, Tensor out) { throw new UnsupportedOperationException(); }
    @Override public void rope(Tensor x, Tensor out, RopeTable table, int rowsPerPosition, RopeStyle style) { throw new UnsupportedOperationException(); }
    @Override public void embedding(Tensor table, Tensor ids, Tensor out) { throw new UnsupportedOperationException(); }
    @Override public void reduce(ReduceOp op, Tensor x, Tensor out) { throw new UnsupportedOperationException(); }
    @Override public void argmax(Tensor x, Tensor out) { throw new UnsupportedOperationException(); }
}
