package dev.corvus.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class MemoryScopeTest {
    @Test
    void closingFreesAndCountsBytes() {
        long before = MemoryStats.liveBytes();
        MemoryStats.resetPeak();
        try (MemoryScope scope = MemoryScope.open("outer")) {
            Tensor.zeros(DType.F32, 1000);
            assertThat(scope.liveBytes()).isEqualTo(4000);
            try (MemoryScope inner = MemoryScope.open("inner")) {
                Tensor t = Tensor.zeros(DType.F16, 100);
                assertThat(t.scope()).isSameAs(inner);
                assertThat(inner.liveBytes()).isEqualTo(200);
                assertThat(MemoryStats.liveBytes() - before).isEqualTo(4200);
            }
            assertThat(MemoryStats.liveBytes() - before).isEqualTo(4000);
            assertThat(MemoryScope.current()).isSameAs(scope);
            assertThat(MemoryStats.peakBytes() - before).isGreaterThanOrEqualTo(4200);
            assertThat(scope.peakBytes()).isEqualTo(4000);
        }
        assertThat(MemoryStats.liveBytes()).isEqualTo(before);
    }

    @Test
    void usingATensorAfterItsScopeClosedIsAClearError() {
        Tensor t;
        try (MemoryScope scope = MemoryScope.open("short-lived")) {
            t = Tensor.ones(4);
        }
        assertThatThrownBy(t::toFloatArray).isInstanceOf(IllegalStateException.class).hasMessageContaining("short-lived").hasMessageContaining("closed");
        Tensor dead = t;
        try (MemoryScope other = MemoryScope.open()) {
            assertThatThrownBy(() -> Ops.add(dead, Tensor.ones(4))).isInstanceOf(IllegalStateException.class).hasMessageContaining("short-lived");
        }
    }

    @Test
    void factoriesWithoutAnOpenScopeSayHowToOpenOne() {
        assertThat(MemoryScope.current()).isNull();
        assertThatThrownBy(() -> Tensor.zeros(DType.F32, 3)).isInstanceOf(IllegalStateException.class).hasMessageContaining("MemoryScope.open()");
    }

    @Test
    void opsWithoutAnOpenScopeAllocateInTheOperandsScope() {
        try (MemoryScope weights = MemoryScope.detached("weights")) {
            Tensor w = Tensor.full(weights, 2f, 3);
            assertThat(MemoryScope.current()).isNull();
            Tensor y = Ops.scale(w, 3);
            assertThat(y.scope()).isSameAs(weights);
            assertThat(y.toFloatArray()).containsExactly(6, 6, 6);
        }
    }

    @Test
    void scopeClosedFromAnotherThreadIsSkipped() throws Exception {
        MemoryScope outer = MemoryScope.open("outer");
        MemoryScope inner = MemoryScope.open("inner");
        Thread t = new Thread(inner::close);
        t.start();
        t.join();
        assertThat(MemoryScope.current()).isSameAs(outer);
        outer.close();
        assertThat(MemoryScope.current()).isNull();
    }

    @Test
    void pooledScopeRecyclesSegmentsAndCountsWhatIsHandedOut() {
        try (MemoryScope scope = MemoryScope.pooled("pool")) {
            Tensor a = Tensor.full(3f, 100);
            Tensor b = Tensor.zeros(DType.F32, 50);
            assertThat(scope.liveBytes()).isEqualTo(600);
            assertThat(scope.takeAllocations()).containsExactly(a.segment(), b.segment());
            long aAddress = a.segment().address();
            scope.recycle(a.segment());
            assertThat(scope.liveBytes()).isEqualTo(200);
            Tensor c = Tensor.zeros(DType.F32, 90); // a's 512-byte class again, zeroed
            assertThat(c.segment().address()).isEqualTo(aAddress);
            assertThat(c.toFloatArray()).containsOnly(0f);
            assertThat(scope.peakBytes()).isEqualTo(600);
            assertThat(scope.reservedBytes()).isEqualTo(512 + 256);
            assertThat(scope.takeAllocations()).containsExactly(c.segment());
            // Drifting sizes reuse their classes instead of piling up.
            for (int n = 1; n <= 60; n++) scope.recycle(Tensor.zeros(DType.F32, n).segment());
            assertThat(scope.reservedBytes()).isLessThanOrEqualTo(512 + 256 + 64 + 128 + 256);
        }
        try (MemoryScope scope = MemoryScope.pooled("large")) {
            // Large buffers go back for real: growing sizes do not pile up.
            int n = (int) (MemoryScope.OWN_ARENA_BYTES / 4);
            for (int i = 1; i <= 5; i++) {
                Tensor t = Tensor.zeros(DType.F32, n * i);
                assertThat(scope.takeAllocations()).containsExactly(t.segment());
                scope.recycle(t.segment());
            }
            assertThat(scope.liveBytes()).isZero();
            assertThat(scope.reservedBytes()).isZero();
            assertThat(scope.peakReservedBytes()).isEqualTo(5L * n * 4);
            Tensor kept = Tensor.full(2f, n);
            assertThat(kept.toFloatArray()).containsOnly(2f);
        }
        long big = MemoryScope.OWN_ARENA_BYTES;
        try (MemoryScope scope = MemoryScope.pooled("cached", 3 * big)) {
            // Within the cap a recycled large buffer is reused (zeroed again); past it the oldest go back.
            Tensor a = Tensor.full(5f, (int) (big / 4));
            scope.recycle(a.segment());
            Tensor b = Tensor.zeros(DType.F32, (int) (big / 4));
            assertThat(b.segment()).isSameAs(a.segment());
            assertThat(b.toFloatArray()).containsOnly(0f);
            scope.recycle(b.segment());
            scope.recycle(Tensor.zeros(DType.F32, (int) (2 * big / 4)).segment());
            assertThat(scope.reservedBytes()).as("1 + 2 buffers cached, within the cap").isEqualTo(3 * big);
            for (int i = 3; i <= 5; i++) scope.recycle(Tensor.zeros(DType.F32, (int) (i * big / 4)).segment());
            assertThat(scope.liveBytes()).isZero();
            assertThat(scope.reservedBytes()).isLessThanOrEqualTo(3 * big);
        }
        try (MemoryScope plain = MemoryScope.open()) {
            assertThatThrownBy(() -> plain.recycle(Tensor.zeros(DType.F32, 1).segment()))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("not pooled");
        }
    }
}
