// Shared helpers; pull in with #include "common.cl" (ProgramCache expands includes from this folder).
// Offsets are in elements (long) unless a name says bytes. Host memory layout is little-endian.
// ProgramCache defines Q8_BLOCK and Q8_BYTES (Q8_0's elements and bytes per block) from DType.
#pragma OPENCL FP_CONTRACT OFF

inline float load_f32(global const uchar* p, long e) { return ((global const float*) p)[e]; }
inline float load_f16(global const uchar* p, long e) { return vload_half(e, (global const half*) p); }
inline float load_bf16(global const uchar* p, long e) { return as_float(((uint) ((global const ushort*) p)[e]) << 16); }
inline float load_q8(global const uchar* p, long e) {
    global const uchar* block = p + (e / Q8_BLOCK) * Q8_BYTES;
    return vload_half(0, (global const half*) block) * (float) ((global const char*) (block + 2))[e % Q8_BLOCK];
}

inline void store_f32(global uchar* p, long e, float v) { ((global float*) p)[e] = v; }
inline void store_f16(global uchar* p, long e, float v) { vstore_half_rte(v, e, (global half*) p); }
inline void store_bf16(global uchar* p, long e, float v) {
    uint b = as_uint(v);
    uint r = (b & 0x7fffffffu) > 0x7f800000u ? (b >> 16) | 0x40u : (b + 0x7fffu + ((b >> 16) & 1u)) >> 16;
    ((global ushort*) p)[e] = (ushort) r;
}

// NaN-propagating max (fmax would drop NaNs).
inline float max_nan(float a, float b) { return isnan(a) || isnan(b) ? NAN : fmax(a, b); }
