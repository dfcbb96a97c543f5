package dev.corvus.comm;

import static dev.corvus.comm.CommTesting.TIMEOUT;
import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The byte counters follow the documented formulas exactly, per op kind, on every rank. */
class ByteCountTest {

    private static Map<OpKind, Long> only(OpKind kind, long bytes) {
        Map<OpKind, Long> m = new EnumMap<>(OpKind.class);
        for (OpKind k : OpKind.values()) m.put(k, k == kind ? bytes : 0L);
        return m;
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4, 8})
    void eachCollectiveCountsWhatLeavesTheRank(int p) {
        for (DType dt : new DType[] {DType.F32, DType.BF16}) {
            int eb = dt.elementBytes();
            List<Map<OpKind, Map<OpKind, Long>>> got = InJvmCluster.run(p, TIMEOUT, comm -> {
                Map<OpKind, Map<OpKind, Long>> seen = new EnumMap<>(OpKind.class);
                CommStats s = comm.stats();
                try (MemoryScope scope = MemoryScope.open("rank")) {
                    comm.allGather(Tensor.zeros(dt, 3, 5), Tensor.zeros(dt, 3, 5 * p), 1);
                    seen.put(OpKind.ALL_GATHER, s.snapshot());
                    s.reset();
                    comm.reduceScatter(Tensor.zeros(dt, 2 * p, 7), Tensor.zeros(dt, 2, 7), 0);
                    seen.put(OpKind.REDUCE_SCATTER, s.snapshot());
                    s.reset();
                    comm.allToAll(Tensor.zeros(dt, 2, 3, 2 * p, 4), Tensor.zeros(dt, 2, 3 * p, 2, 4), 2, 1);
                    seen.put(OpKind.ALL_TO_ALL, s.snapshot());
                    s.reset();
                    comm.allReduce(Tensor.zeros(dt, 6 * p));
                    seen.put(OpKind.ALL_REDUCE, s.snapshot());
                    s.reset();
                    comm.barrier();
                    seen.put(OpKind.BARRIER, s.snapshot());
                    s.reset();
                    if (comm.size() > 1) {
                        int next = (comm.rank() + 1) % comm.size(), prev = (comm.rank() - 1 + comm.size()) % comm.size();
                        comm.send(Tensor.zeros(dt, 11), next, 0);
                        comm.send(Tensor.zeros(dt, 4), comm.rank(), 1);    // to oneself: 0
                        comm.receive(Tensor.zeros(dt, 11), prev, 0).await();
                        comm.receive(Tensor.zeros(dt, 4), comm.rank(), 1).await();
                    }
                    seen.put(OpKind.SEND, s.snapshot());
                }
                return seen;
            });
            for (int r = 0; r < p; r++) {
                Map<OpKind, Map<OpKind, Long>> seen = got.get(r);
                assertThat(seen.get(OpKind.ALL_GATHER)).isEqualTo(only(OpKind.ALL_GATHER, (p - 1) * 15L * eb));
                long rsIn = 2L * p * 7 * eb;
                assertThat(seen.get(OpKind.REDUCE_SCATTER)).isEqualTo(only(OpKind.REDUCE_SCATTER, (p - 1) * rsIn / p));
                long a2aIn = 2L * 3 * 2 * p * 4 * eb;
                assertThat(seen.get(OpKind.ALL_TO_ALL)).isEqualTo(only(OpKind.ALL_TO_ALL, (p - 1) * a2aIn / p));
                long arBytes = 6L * p * eb;
                assertThat(seen.get(OpKind.ALL_REDUCE)).isEqualTo(only(OpKind.ALL_REDUCE, 2 * (p - 1) * arBytes / p));
                assertThat(seen.get(OpKind.BARRIER)).isEqualTo(only(OpKind.BARRIER, 0));
                assertThat(seen.get(OpKind.SEND)).isEqualTo(only(OpKind.SEND, p > 1 ? 11L * eb : 0));
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 3, 4, 8})
    void unevenAllReduceCountsTheBytesActuallySent(int p) {
        int n = 4 * p + 3;
        List<Long> got = InJvmCluster.run(p, TIMEOUT, comm -> {
            try (MemoryScope scope = MemoryScope.open("rank")) {
                comm.allReduce(Tensor.zeros(DType.F32, n));
                return comm.stats().bytes(OpKind.ALL_REDUCE);
            }
        });
        long total = 0;
        for (int r = 0; r < p; r++) {
            long own = ((long) n * (r + 1) / p - (long) n * r / p) * 4;
            assertThat(got.get(r)).isEqualTo((4L * n - own) + (p - 1) * own);
            total += got.get(r);
        }
        assertThat(total).isEqualTo(2L * (p - 1) * n * 4);   // the total over ranks is exact either way
    }
}
