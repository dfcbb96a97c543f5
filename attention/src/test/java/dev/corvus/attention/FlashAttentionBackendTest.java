package dev.corvus.attention;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.tensor.Backends;
import dev.corvus.tensor.Capability;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.Device;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import org.junit.jupiter.api.Test;

/**
 * FlashAttention picks the path from the backend of its tensors: the tensor library's test
 * "fake" device (heap memory, copies only, no fused attention kernel) must get the CPU
 * algorithm on host copies, results back on the device, equal to the host run bit for bit
 * (same kernels, same operands), sliding windows and soft-capping included.
 */
class FlashAttentionBackendTest {
    private static final Device FAKE = Backends.device("fake");

    @Test
    void theFakeDeviceHasNoFusedKernelAndTheCpuHasNone() {
        assertThat(Backends.of(FAKE).has(Capability.FUSED_ATTENTION)).isFalse();
        assertThat(Backends.cpu().has(Capability.FUSED_ATTENTION)).isFalse();
    }

    @Test
    void aBackendWithoutAFusedKernelRunsTheCpuAlgorithmOnHostCopies() {
        int[][] shapes = {{1, 2, 1, 1, 7, 8}, {2, 4, 2, 13, 13, 16}, {1, 3, 1, 97, 65, 7}};
        Mask[] masks = {Mask.NONE, Mask.causalBottomRight(13, 13), Mask.slidingWindowBottomRight(97, 65, 17)};
        for (int i = 0; i < shapes.length; i++) {
            int[] s = shapes[i];
            int b = s[0], hq = s[1], hkv = s[2], nq = s[3], nk = s[4], d = s[5];
            Mask mask = masks[i];
            float softcap = i == 2 ? 5f : 0f;
            try (MemoryScope scope = MemoryScope.open("fallback")) {
                Tensor q = Tensor.randn(scope, 1 + i, 1f, b, hq, nq, d), k = Tensor.randn(scope, 11 + i, 1f, b, hkv, nk, d),
                        v = Tensor.randn(scope, 21 + i, 1f, b, hkv, nk, d);
                if (i == 1) q = q.to(DType.BF16);
                float scale = (float) (1 / Math.sqrt(d));
                FlashAttention.Result host = FlashAttention.forward(q, k, v, mask, scale, softcap);
                FlashAttention.Result dev = FlashAttention.forward(q.to(FAKE), k.to(FAKE), v.to(FAKE), mask, scale, softcap);
                String what = "case " + i + " mask " + mask + " softcap " + softcap;
                assertThat(dev.out().device()).as(what).isEqualTo(FAKE);
                assertThat(dev.lse().device()).as(what).isEqualTo(FAKE);
                assertThat(dev.out().shape()).as(what).containsExactly(host.out().shape());
                assertThat(dev.out().toFloatArray()).as(what + " out").isEqualTo(host.out().toFloatArray());
                assertThat(dev.lse().toFloatArray()).as(what + " lse").isEqualTo(host.lse().toFloatArray());
            }
        }
    }

    @Test
    void decodeOnSuchADeviceMatchesTheHostForward() {
        try (MemoryScope scope = MemoryScope.open("decode")) {
            // a full cache: the fake device copies only contiguous tensors, and a narrowed cache is strided
            int cap = 29, len = 29, d = 16;
            Tensor q = Tensor.randn(scope, 1, 1f, 1, 4, 1, d), kc = Tensor.randn(scope, 2, 1f, 1, 2, cap, d), vc = Tensor.randn(scope, 3, 1f, 1, 2, cap, d);
            Tensor expected = FlashAttention.forward(q, kc.narrow(2, 0, len).contiguous(), vc.narrow(2, 0, len).contiguous(), Mask.NONE, 0.25f).out();
            Tensor out = FlashAttention.decode(q.to(FAKE), kc.to(FAKE), vc.to(FAKE), len, 0.25f);
            assertThat(out.device()).isEqualTo(FAKE);
            assertThat(out.toFloatArray()).isEqualTo(expected.toFloatArray());
        }
    }
}
