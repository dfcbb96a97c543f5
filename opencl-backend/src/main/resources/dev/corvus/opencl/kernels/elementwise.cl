// Element-wise F32 kernels: one work item per output element; contiguous operands.
#include "common.cl"

// OP_ADD, OP_SUB, ... and U_EXP, U_SILU, ... are build options (-DOP_ADD=0 ...) made from the
// Java enums BinaryOp and UnaryOp (OpenClBackend.ELEMENTWISE): the codes are kept in one list.

// out[i] = a[i] op b[i % m]  (m == n: same shape; m == 1: scalar; else a repeating row)
kernel void binary_f32(global const float* a, long aoff, global const float* b, long boff, long m,
                       global float* out, long ooff, int op) {
    long i = get_global_id(0);
    float x = a[aoff + i], y = b[boff + i % m];
    float r;
    switch (op) {
        case OP_ADD: r = x + y; break;
        case OP_SUB: r = x - y; break;
        case OP_MUL: r = x * y; break;
        default: r = x / y; break;
    }
    out[ooff + i] = r;
}


kernel void unary_f32(global const float* x, long xoff, global float* out, long ooff, int op) {
    long i = get_global_id(0);
    float v = x[xoff + i];
    float r;
    switch (op) {
        case U_EXP: r = exp(v); break;
        case U_SILU: r = v / (1.0f + exp(-v)); break;
        case U_RELU: r = isnan(v) ? v : (v > 0.0f ? v : 0.0f); break;
        case U_NEG: r = -v; break;
        case U_TANH: r = tanh(v); break;
        // 0.5 v (1 + tanh(u)) == v / (1 + exp(-2u)), without the cancellation of 1 + tanh(u) for u << 0
        case U_GELU_TANH: r = v / (1.0f + exp(-1.5957691216057308f * (v + 0.044715f * v * v * v))); break;
        // 0.5 v (1 + erf(v / sqrt 2)) == 0.5 v erfc(-v / sqrt 2), likewise
        default: r = 0.5f * v * erfc(v * -0.7071067811865476f); break;
    }
    out[ooff + i] = r;
}

kernel void scale_f32(global const float* x, long xoff, float factor, global float* out, long ooff) {
    long i = get_global_id(0);
    out[ooff + i] = x[xoff + i] * factor;
}
