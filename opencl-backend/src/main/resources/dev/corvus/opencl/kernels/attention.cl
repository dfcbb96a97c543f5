// Flash attention forward (online softmax, no N x N scores).
//
// q [B, Hq, Nq, D], k and v [B, Hkv, Nk, D] contiguous F32 (element offsets qoff, koff, voff);
// out [B, Hq, Nq, D], lse [B, Hq, Nq]. Query head h reads kv head h / (Hq / Hkv).
//
// Work-group: range {ceil(Nq / BR) * BR, B * Hq}, local {BR, 1}: one work-item per query row of a
// block of BR rows, for one (batch, head). The group stages tiles of BC keys of K and V in local
// memory (cooperative, coalesced loads); each work-item keeps its q row, its output accumulator
// and the running max m and denominator l in private memory and folds in a tile at a time:
//   m' = max(m, max_j s_j), l' = l * exp(m - m') + sum_j exp(s_j - m'), acc' = acc * exp(m - m') + sum_j p_j v_j.
// Under causal masking (key position kstart + j visible from query position qstart + i iff
// kstart + j <= qstart + i, i.e. j <= i + delta with delta = qstart - kstart) the group stops
// at the last tile its last row can see. A row that sees no key gets out 0, lse -inf.
//
// Compile-time: HEAD_D (D), BC (keys per tile). BR is the launch's local size (any value >= 1).
#include "common.cl"

#ifndef HEAD_D
#error "HEAD_D (the head dimension) must be defined"
#endif
#ifndef BC
#define BC 32
#endif

kernel void attention_fwd_f32(global const float* q, long qoff, global const float* k, long koff, global const float* v, long voff,
                              global float* out, long ooff, global float* lse, long loff, int hq, int hkv, int nq, int nk,
                              int causal, long delta, float scale, local float* kt, local float* vt) {
    const int lid = get_local_id(0), br = get_local_size(0);
    const int bh = get_group_id(1);           // b * hq + h
    const int b = bh / hq, h = bh % hq;
    const int hk = h / (hq / hkv);
    const int first = get_group_id(0) * br;   // first query row of this block
    const int i = first + lid;
    const bool valid = i < nq;

    global const float* kb = k + koff + ((long) b * hkv + hk) * nk * HEAD_D;
    global const float* vb = v + voff + ((long) b * hkv + hk) * nk * HEAD_D;

    // Keys this block needs: [0, kend); under causal the last row of the block sees the most.
    long kend = nk;
    long rowEnd = nk;  // keys this row sees: [0, rowEnd)
    if (causal) {
        int last = min(first + br, nq) - 1;
        kend = clamp((long) last + delta + 1, 0L, (long) nk);
        rowEnd = clamp((long) i + delta + 1, 0L, (long) nk);
    }
    if (!valid) rowEnd = 0;

    float qr[HEAD_D], acc[HEAD_D];
    if (valid) {
        global const float* qrow = q + qoff + ((long) bh * nq + i) * HEAD_D;
        for (int d = 0; d < HEAD_D; d++) qr[d] = qrow[d];
    }
    for (int d = 0; d < HEAD_D; d++) acc[d] = 0.0f;
    float m = -INFINITY, l = 0.0f;
    float s[BC];

    for (int t = 0; t < kend; t += BC) {   // kend is uniform across the group: barriers are safe
        int tn = min(BC, (int) (kend - t));
        global const float* ksrc = kb + (long) t * HEAD_D;
        global const float* vsrc = vb + (long) t * HEAD_D;
        for (int e = lid; e < tn * HEAD_D; e += br) {
            kt[e] = ksrc[e];
            vt[e] = vsrc[e];
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        int seen = (int) clamp(rowEnd - t, 0L, (long) tn);   // keys of this tile the row sees
        if (seen > 0) {
            float mt = -INFINITY;
            for (int j = 0; j < seen; j++) {
                local const float* kr = kt + j * HEAD_D;
                float dot = 0.0f;
                for (int d = 0; d < HEAD_D; d++) dot += qr[d] * kr[d];
                s[j] = dot * scale;
                mt = max_nan(mt, s[j]);
            }
            float mn = max_nan(m, mt);
            float alpha = exp(m - mn);     // m == -inf on the first tile: alpha 0
            l *= alpha;
            for (int d = 0; d < HEAD_D; d++) acc[d] *= alpha;
            for (int j = 0; j < seen; j++) {
                float p = exp(s[j] - mn);
                l += p;
                local const float* vr = vt + j * HEAD_D;
                for (int d = 0; d < HEAD_D; d++) acc[d] += p * vr[d];
            }
            m = mn;
        }
        barrier(CLK_LOCAL_MEM_FENCE);      // the tile is overwritten next
    }

    if (valid) {
        global float* orow = out + ooff + ((long) bh * nq + i) * HEAD_D;
        if (rowEnd > 0) {   // (not l > 0: NaN inputs must show as NaN, not as a masked row)
            float inv = 1.0f / l;
            for (int d = 0; d < HEAD_D; d++) orow[d] = acc[d] * inv;
            lse[loff + (long) bh * nq + i] = m + log(l);
        } else {
            for (int d = 0; d < HEAD_D; d++) orow[d] = 0.0f;
            lse[loff + (long) bh * nq + i] = -INFINITY;
        }
    }
}
