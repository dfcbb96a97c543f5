// out[i, j] = table[ids[i], j] as F32; 2-D range (d, number of ids). Table offsets in elements,
// except Q8_0 whose offset is in bytes (block aligned).
#include "common.cl"

#define EMBED(T) \
kernel void embedding_##T(global const uchar* table, long toff, global const int* ids, long idoff, global float* out, long ooff, long d) { \
    long j = get_global_id(0), i = get_global_id(1); \
    out[ooff + i * d + j] = load_##T(table, toff + (long) ids[idoff + i] * d + j); \
}

EMBED(f32) EMBED(f16) EMBED(bf16)

kernel void embedding_q8(global const uchar* table, long tableByteOffset, global const int* ids, long idoff, global float* out, long ooff, long d) {
    long j = get_global_id(0), i = get_global_id(1);
    out[ooff + i * d + j] = load_q8(table + tableByteOffset, (long) ids[idoff + i] * d + j);
}
