// Element-for-element copies with dtype conversion, any strides (rank <= 8, padded in front with
// size-1 dimensions), and the Q8_0 codec. Built with -cl-fp32-correctly-rounded-divide-sqrt so the
// Q8_0 scales match the Java reference bit for bit.
#include "common.cl"

// Storage element index of linear element i, for shape/strides given as long8.
inline long strided(long i, long8 shape, long8 strides) {
    long sh[8], st[8];
    vstore8(shape, 0, sh);
    vstore8(strides, 0, st);
    long e = 0;
    for (int d = 7; d >= 0; d--) {
        long k = i % sh[d];
        i /= sh[d];
        e += k * st[d];
    }
    return e;
}

#define COPY(S, D) \
kernel void copy_##S##_##D(global const uchar* src, long soff, long8 sstrides, global uchar* dst, long doff, long8 dstrides, \
                           long8 shape, long n) { \
    long i = get_global_id(0); \
    if (i >= n) return; \
    store_##D(dst, doff + strided(i, shape, dstrides), load_##S(src, soff + strided(i, shape, sstrides))); \
}

COPY(f32, f32) COPY(f32, f16) COPY(f32, bf16)
COPY(f16, f32) COPY(f16, f16) COPY(f16, bf16)
COPY(bf16, f32) COPY(bf16, f16) COPY(bf16, bf16)

kernel void copy_i32_i32(global const int* src, long soff, long8 sstrides, global int* dst, long doff, long8 dstrides, long8 shape, long n) {
    long i = get_global_id(0);
    if (i >= n) return;
    dst[doff + strided(i, shape, dstrides)] = src[soff + strided(i, shape, sstrides)];
}

// Q8_0 (blocks of Q8_BYTES = 34 bytes: fp16 scale + Q8_BLOCK = 32 int8) to contiguous F32; one work item per element.
kernel void q8_to_f32(global const uchar* src, long srcByteOffset, global float* dst, long doff, long n) {
    long i = get_global_id(0);
    if (i >= n) return;
    dst[doff + i] = load_q8(src + srcByteOffset, i);
}

// Contiguous F32 to Q8_0, one work item per block, exactly as FloatFormats.q8Scale/q8Quantize.
kernel void f32_to_q8(global const float* src, long soff, global uchar* dst, long dstByteOffset, long blocks) {
    long b = get_global_id(0);
    if (b >= blocks) return;
    global const float* x = src + soff + b * Q8_BLOCK;
    float amax = 0.0f;
    for (int i = 0; i < Q8_BLOCK; i++) amax = fmax(amax, fabs(x[i]));
    float d = amax / 127.0f;
    float inv = d == 0.0f ? 0.0f : 1.0f / d;
    global uchar* out = dst + dstByteOffset + b * Q8_BYTES;
    vstore_half_rte(d, 0, (global half*) out);
    for (int i = 0; i < Q8_BLOCK; i++) {
        float v = fabs(x[i] * inv);
        int whole = (int) v;
        int q = min(127, whole + (v - (float) whole >= 0.5f ? 1 : 0));
        ((global char*) (out + 2))[i] = (char) (x[i] < 0.0f ? -q : q);
    }
}
