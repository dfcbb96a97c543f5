// Matrix products for OpenClBackend.matmul: out[b] = a[b] · w[b] with a [M, K] F32 and out
// [M, N] F32 contiguous. The right operand is read through LOAD_B(p, e) (element e of its
// storage), chosen at build time: -DB_F32 / -DB_F16 / -DB_BF16 / -DB_Q8. F32 takes any strides;
// the others come in weight layout (element (k, j) at j * K + k, i.e. the transpose of a
// row-major [N, K] weight), but the tiled kernel only needs strides, so it serves them all.
//
// Build options (the host sets them; defaults here): TM x TN output tile per work-group, TK deep
// K slices staged in local memory, RM x RN outputs per work-item (work-group (TN/RN, TM/RM)),
// GEMV_WG items per GEMV work-group, GEMV_R outputs per GEMV work-group, GEMV_M rows of a.
#include "common.cl"

#ifndef TM
#define TM 64
#endif
#ifndef TN
#define TN 64
#endif
#ifndef TK
#define TK 16
#endif
#ifndef RM
#define RM 4
#endif
#ifndef RN
#define RN 4
#endif
#ifndef GEMV_WG
#define GEMV_WG 64
#endif
#ifndef GEMV_R
#define GEMV_R 4
#endif
#ifndef GEMV_M
#define GEMV_M 4
#endif

#if defined(B_F16)
#define LOAD_B(p, e) load_f16(p, e)
#elif defined(B_BF16)
#define LOAD_B(p, e) load_bf16(p, e)
#elif defined(B_Q8)
#define LOAD_B(p, e) load_q8(p, e)
#else
#define LOAD_B(p, e) load_f32(p, e)
#endif

#define WX (TN / RN)            // work-items along N
#define WY (TM / RM)            // work-items along M
#define WG (WX * WY)

// ---------------------------------------------------------------- tiled GEMM
// Global range (ceil(N/TN)*WX, ceil(M/TM)*WY, batch), local (WX, WY, 1).
// a element (i, k) of batch z: a[aoff + z*sab + i*sam + k*sak]; b element (k, j): boff + z*sbb +
// k*sbk + j*sbn (elements of b's storage); out (i, j): out[ooff + z*M*N + i*N + j].
// Edges are guarded by zero-filling the staged tiles and by masking the stores.
kernel void gemm(int M, int N, int K,
                 global const float* a, long aoff, long sab, long sam, long sak,
                 global const uchar* b, long boff, long sbb, long sbk, long sbn,
                 global float* out, long ooff) {
    local float As[TK][TM + 1];     // As[k][i]; +1 pads the rows apart (bank conflicts on GPUs)
    local float Bs[TK][TN + 1];     // Bs[k][j]
    const int tx = get_local_id(0), ty = get_local_id(1), lid = ty * WX + tx;
    const int i0 = get_group_id(1) * TM, j0 = get_group_id(0) * TN;
    const long z = get_global_id(2);
    a += aoff + z * sab;
    const long bz = boff + z * sbb;
    // Which index runs fastest while staging: the one with unit stride (coalesced on GPUs).
    const bool aKFast = sak == 1, bKFast = sbk == 1 && sbn != 1;

    float acc[RM][RN];
    for (int r = 0; r < RM; r++)
        for (int c = 0; c < RN; c++) acc[r][c] = 0.0f;

    for (int k0 = 0; k0 < K; k0 += TK) {
        for (int t = lid; t < TM * TK; t += WG) {
            int ii = aKFast ? t / TK : t % TM, kk = aKFast ? t % TK : t / TM;
            int i = i0 + ii, k = k0 + kk;
            As[kk][ii] = i < M && k < K ? a[i * sam + k * sak] : 0.0f;
        }
        for (int t = lid; t < TN * TK; t += WG) {
            int jj = bKFast ? t / TK : t % TN, kk = bKFast ? t % TK : t / TN;
            int j = j0 + jj, k = k0 + kk;
            Bs[kk][jj] = j < N && k < K ? LOAD_B(b, bz + k * sbk + j * sbn) : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int kk = 0; kk < TK; kk++) {
            float av[RM], bv[RN];
            for (int r = 0; r < RM; r++) av[r] = As[kk][ty + r * WY];
            for (int c = 0; c < RN; c++) bv[c] = Bs[kk][tx + c * WX];
            for (int r = 0; r < RM; r++)
                for (int c = 0; c < RN; c++) acc[r][c] = fma(av[r], bv[c], acc[r][c]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    // Item (tx, ty) owns rows ty + r*WY and columns tx + c*WX: neighbouring items write
    // neighbouring columns.
    out += ooff + z * (long) M * N;
    for (int r = 0; r < RM; r++) {
        int i = i0 + ty + r * WY;
        if (i >= M) break;
        for (int c = 0; c < RN; c++) {
            int j = j0 + tx + c * WX;
            if (j < N) out[(long) i * N + j] = acc[r][c];
        }
    }
}

// ---------------------------------------------------------------- GEMV (few rows of a)
// b in weight layout: output j is the dot product of a row of a with K consecutive elements of
// b starting at boff + z*sbb + j*sbn. One work-group per GEMV_R outputs and batch z; its items
// stride over K, then reduce the GEMV_R x GEMV_M partial sums in local memory.
// Global range (ceil(N/GEMV_R)*GEMV_WG, batch), local (GEMV_WG, 1). M <= GEMV_M.
kernel void gemv(int M, int N, int K,
                 global const float* a, long aoff, long sab, long sam, long sak,
                 global const uchar* b, long boff, long sbb, long sbn,
                 global float* out, long ooff) {
    local float part[GEMV_R * GEMV_M][GEMV_WG];
    const int lid = get_local_id(0);
    const int j0 = get_group_id(0) * GEMV_R;
    const long z = get_global_id(1);
    a += aoff + z * sab;
    const long bz = boff + z * sbb;

    float acc[GEMV_R][GEMV_M];
    for (int r = 0; r < GEMV_R; r++)
        for (int m = 0; m < GEMV_M; m++) acc[r][m] = 0.0f;

#if defined(B_Q8)
    // Whole blocks (the host guarantees K % Q8_BLOCK == 0 and block-aligned rows): an item takes a
    // quarter block, 8 int8 values under one fp16 scale.
    for (int u = lid; u < K / 8; u += GEMV_WG) {
        int k = u * 8;
        float xv[GEMV_M][8];
        for (int m = 0; m < GEMV_M; m++)
            for (int e = 0; e < 8; e++) xv[m][e] = m < M ? a[m * sam + (k + e) * sak] : 0.0f;
        for (int r = 0; r < GEMV_R; r++) {
            int j = min(j0 + r, N - 1);                     // rows past N compute junk, never stored
            long e0 = bz + (long) j * sbn + k;
            global const uchar* block = b + (e0 / Q8_BLOCK) * Q8_BYTES;
            float scale = vload_half(0, (global const half*) block);
            float8 q = convert_float8(vload8(0, (global const char*) (block + 2 + e0 % Q8_BLOCK)));
            for (int m = 0; m < GEMV_M; m++) {
                float s = q.s0 * xv[m][0] + q.s1 * xv[m][1] + q.s2 * xv[m][2] + q.s3 * xv[m][3]
                        + q.s4 * xv[m][4] + q.s5 * xv[m][5] + q.s6 * xv[m][6] + q.s7 * xv[m][7];
                acc[r][m] = fma(scale, s, acc[r][m]);
            }
        }
    }
#else
    for (int k = lid; k < K; k += GEMV_WG) {
        float xv[GEMV_M];
        for (int m = 0; m < GEMV_M; m++) xv[m] = m < M ? a[m * sam + k * sak] : 0.0f;
        for (int r = 0; r < GEMV_R; r++) {
            int j = min(j0 + r, N - 1);
            float w = LOAD_B(b, bz + (long) j * sbn + k);
            for (int m = 0; m < GEMV_M; m++) acc[r][m] = fma(w, xv[m], acc[r][m]);
        }
    }
#endif
    for (int r = 0; r < GEMV_R; r++)
        for (int m = 0; m < GEMV_M; m++) part[r * GEMV_M + m][lid] = acc[r][m];
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = GEMV_WG / 2; s > 0; s >>= 1) {
        if (lid < s) {
            for (int v = 0; v < GEMV_R * GEMV_M; v++) part[v][lid] += part[v][lid + s];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    // The first GEMV_R * GEMV_M items store one result each.
    if (lid < GEMV_R * GEMV_M) {
        int r = lid / GEMV_M, m = lid % GEMV_M, j = j0 + r;
        if (j < N && m < M) out[ooff + z * (long) M * N + (long) m * N + j] = part[lid][0];
    }
}

// ---------------------------------------------------------------- few rows, b row-major
// For F32 b whose N index is the fast one (attention's P·V, x·W with W [K, N]): one item per
// output, a loop over K; neighbouring items read neighbouring elements of each row of b.
// Global range (N, M, batch).
kernel void gemv_rows(int M, int N, int K,
                      global const float* a, long aoff, long sab, long sam, long sak,
                      global const uchar* b, long boff, long sbb, long sbk, long sbn,
                      global float* out, long ooff) {
    const int j = get_global_id(0), i = get_global_id(1);
    const long z = get_global_id(2);
    if (j >= N) return;
    global const float* ar = a + aoff + z * sab + (long) i * sam;
    const long bz = boff + z * sbb + (long) j * sbn;
    float acc = 0.0f;
    for (int k = 0; k < K; k++) acc = fma(ar[k * sak], LOAD_B(b, bz + (long) k * sbk), acc);
    out[ooff + z * (long) M * N + (long) i * N + j] = acc;
}
