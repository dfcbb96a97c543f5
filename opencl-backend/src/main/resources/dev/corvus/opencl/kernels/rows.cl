// Row ops over the last dimension of a contiguous tensor: softmax / log-softmax, rmsnorm,
// layernorm (one work-group per row, tree reductions in local memory as in reduce.cl; the
// work-group size is a power of two picked by the host), and rope (one work-item per pair).
#include "common.cl"

// Tree reduction of scratch[0..lsize) into scratch[0]; op 0 sums, op 1 takes the max.
// Every work-item of the group must call it; it ends with a barrier, so all may read scratch[0].
inline float group_reduce(local float* scratch, float v, int op) {
    int lid = get_local_id(0), lsize = get_local_size(0);
    scratch[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = lsize / 2; s > 0; s >>= 1) {
        if (lid < s) scratch[lid] = op == 0 ? scratch[lid] + scratch[lid + s] : max_nan(scratch[lid], scratch[lid + s]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float r = scratch[0];
    barrier(CLK_LOCAL_MEM_FENCE);  // scratch is reused by the next reduction
    return r;
}

// Softmax (log != 0: log-softmax) of each row of `cols`. With causal != 0, rows form
// [.., queries, cols] blocks and row q of a block sees keys j <= q + cols - queries; the rest
// (and every key of a row that sees none) is 0 (log-softmax: -infinity).
kernel void softmax_f32(global const float* x, long xoff, global float* out, long ooff, int cols, int queries, int causal,
                        int log_, local float* scratch) {
    long row = get_group_id(0);
    int lid = get_local_id(0), lsize = get_local_size(0);
    global const float* r = x + xoff + row * cols;
    global float* o = out + ooff + row * cols;
    int visible = cols;
    if (causal) visible = clamp((int) (row % queries) + (cols - queries) + 1, 0, cols);
    float masked = log_ ? -INFINITY : 0.0f;
    if (visible == 0) {  // uniform across the group: no barrier is skipped by only some items
        for (int j = lid; j < cols; j += lsize) o[j] = masked;
        return;
    }
    float m = -INFINITY;
    for (int j = lid; j < visible; j += lsize) m = max_nan(m, r[j]);
    m = group_reduce(scratch, m, 1);
    float sum = 0.0f;
    if (log_) {
        for (int j = lid; j < visible; j += lsize) sum += exp(r[j] - m);
        float lsum = log(group_reduce(scratch, sum, 0));
        for (int j = lid; j < cols; j += lsize) o[j] = j < visible ? (r[j] - m) - lsum : masked;
    } else {
        // One exp per element: park exp(x - max) in out, then scale it. Each item rereads only
        // what it wrote itself, so the group's barriers in the reduction suffice.
        for (int j = lid; j < visible; j += lsize) {
            float e = exp(r[j] - m);
            o[j] = e;
            sum += e;
        }
        float inv = 1.0f / group_reduce(scratch, sum, 0);
        for (int j = lid; j < cols; j += lsize) o[j] = j < visible ? o[j] * inv : masked;
    }
}

// out = x / sqrt(mean(x^2) + eps) * weight; has_w == 0: no weight (w is any buffer, unread).
kernel void rmsnorm_f32(global const float* x, long xoff, global const float* w, long woff, int has_w, global float* out,
                        long ooff, int cols, float eps, local float* scratch) {
    long row = get_group_id(0);
    int lid = get_local_id(0), lsize = get_local_size(0);
    global const float* r = x + xoff + row * cols;
    global float* o = out + ooff + row * cols;
    float ss = 0.0f;
    for (int j = lid; j < cols; j += lsize) ss += r[j] * r[j];
    ss = group_reduce(scratch, ss, 0);
    float inv = 1.0f / sqrt(ss / (float) cols + eps);
    for (int j = lid; j < cols; j += lsize) o[j] = has_w ? r[j] * inv * w[woff + j] : r[j] * inv;
}

// out = (x - mean) / sqrt(var + eps) * weight + bias, two passes (mean, then centred squares).
kernel void layernorm_f32(global const float* x, long xoff, global const float* w, long woff, int has_w, global const float* b,
                          long boff, int has_b, global float* out, long ooff, int cols, float eps, local float* scratch) {
    long row = get_group_id(0);
    int lid = get_local_id(0), lsize = get_local_size(0);
    global const float* r = x + xoff + row * cols;
    global float* o = out + ooff + row * cols;
    float s = 0.0f;
    for (int j = lid; j < cols; j += lsize) s += r[j];
    float mean = group_reduce(scratch, s, 0) / (float) cols;
    float v = 0.0f;
    for (int j = lid; j < cols; j += lsize) {
        float c = r[j] - mean;
        v += c * c;
    }
    float inv = 1.0f / sqrt(group_reduce(scratch, v, 0) / (float) cols + eps);
    for (int j = lid; j < cols; j += lsize) {
        float y = (r[j] - mean) * inv;
        if (has_w) y = y * w[woff + j];
        if (has_b) y = y + b[boff + j];
        o[j] = y;
    }
}

// Rotary embedding. Range {half, rows}: item (i, r) rotates pair i of row r (length 2 * half),
// at table position (r / rows_per_pos) % positions. table holds cos [positions, half] then
// sin [positions, half]. style 0: INTERLEAVED pairs (2i, 2i+1); 1: HALF_SPLIT pairs (i, i+half).
kernel void rope_f32(global const float* x, long xoff, global float* out, long ooff, global const float* table, int half_,
                     int positions, long rows_per_pos, int style) {
    int i = get_global_id(0);
    long r = get_global_id(1);
    long pos = (r / rows_per_pos) % positions;
    float c = table[pos * half_ + i];
    float s = table[(long) positions * half_ + pos * half_ + i];
    long base = r * 2 * half_;
    long i0 = base + (style == 0 ? 2 * i : i);
    long i1 = base + (style == 0 ? 2 * i + 1 : i + half_);
    float x0 = x[xoff + i0], x1 = x[xoff + i1];
    out[ooff + i0] = x0 * c - x1 * s;
    out[ooff + i1] = x0 * s + x1 * c;
}
