// Row reductions, one work-group per row: each work item strides over the row, then a tree
// reduction in local memory. The work-group size must be a power of two (the host picks it).
// This is the pattern softmax / rmsnorm / layernorm kernels can follow.
#include "common.cl"

// R_SUM, R_MEAN, R_MAX are build options made from the Java enum ReduceOp (OpenClBackend.REDUCE).

kernel void reduce_f32(global const float* x, long xoff, global float* out, long ooff, int cols, int op, local float* scratch) {
    long row = get_group_id(0);
    int lid = get_local_id(0), lsize = get_local_size(0);
    global const float* r = x + xoff + row * cols;
    float acc = op == R_MAX ? -INFINITY : 0.0f;
    for (int j = lid; j < cols; j += lsize) acc = op == R_MAX ? max_nan(acc, r[j]) : acc + r[j];
    scratch[lid] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = lsize / 2; s > 0; s >>= 1) {
        if (lid < s) scratch[lid] = op == R_MAX ? max_nan(scratch[lid], scratch[lid + s]) : scratch[lid] + scratch[lid + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) out[ooff + row] = op == R_MEAN ? scratch[0] / (float) cols : scratch[0];
}

// (value, index) pairs: NaN is largest, ties go to the smaller index.
inline bool better(float v, int i, float bv, int bi) {
    if (isnan(v) || isnan(bv)) return isnan(v) && (!isnan(bv) || i < bi);
    return v > bv || (v == bv && i < bi);
}

kernel void argmax_f32(global const float* x, long xoff, global int* out, long ooff, int cols, local float* sv, local int* si) {
    long row = get_group_id(0);
    int lid = get_local_id(0), lsize = get_local_size(0);
    global const float* r = x + xoff + row * cols;
    float bv = -INFINITY;
    int bi = INT_MAX;
    for (int j = lid; j < cols; j += lsize) {
        if (better(r[j], j, bv, bi)) { bv = r[j]; bi = j; }
    }
    sv[lid] = bv;
    si[lid] = bi;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = lsize / 2; s > 0; s >>= 1) {
        if (lid < s && better(sv[lid + s], si[lid + s], sv[lid], si[lid])) { sv[lid] = sv[lid + s]; si[lid] = si[lid + s]; }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) out[ooff + row] = si[0] == INT_MAX ? 0 : si[0];
}
