package dev.corvus.comm;

import static dev.corvus.comm.CommTesting.TIMEOUT;
import static dev.corvus.comm.CommTesting.data;
import static dev.corvus.comm.CommTesting.numel;
import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.FloatFormats;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Every collective against a direct computation with the tensor library, for P in {1, 2, 3, 4, 8}. */
class CollectivesTest {

    /** Rank r's input tensor number {@code which} of {@code shape}, in the current scope. */
    private static Tensor input(int rank, int which, int... shape) {
        return Tensor.of(data(rank, which, numel(shape)), shape);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4, 8})
    void allGatherConcatenatesInRankOrderAlongAnyDim(int p) {
        int[][] shapes = {{2, 3}, {3, 1, 5}, {1, 7}, {4}, {2, 3, 1, 2}};
        int[][] dims = {{0, 1, -1}, {0, 1, 2}, {0, 1}, {0}, {0, 1, 2, 3}};
        List<List<float[]>> got = InJvmCluster.run(p, TIMEOUT, comm -> {
            List<float[]> results = new ArrayList<>();
            try (MemoryScope scope = MemoryScope.open("rank")) {
                for (int s = 0; s < shapes.length; s++) {
                    for (int dim : dims[s]) {
                        Tensor local = input(comm.rank(), s, shapes[s]);
                        int[] outShape = shapes[s].clone();
                        int d = dim < 0 ? dim + outShape.length : dim;
                        outShape[d] *= comm.size();
                        Tensor out = Tensor.zeros(DType.F32, outShape);
                        comm.allGather(local, out, dim);
                        results.add(out.toFloatArray());
                    }
                }
            }
            return results;
        });
        try (MemoryScope scope = MemoryScope.open("expected")) {
            int k = 0;
            for (int s = 0; s < shapes.length; s++) {
                for (int dim : dims[s]) {
                    Tensor[] parts = new Tensor[p];
                    for (int j = 0; j < p; j++) parts[j] = input(j, s, shapes[s]);
                    float[] want = Ops.concat(dim, parts).toFloatArray();
                    for (int r = 0; r < p; r++) assertThat(got.get(r).get(k)).as("rank %d shape %d dim %d", r, s, dim).containsExactly(want);
                    k++;
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4, 8})
    void reduceScatterSumsInRankOrderAndKeepsOwnSlab(int p) {
        int[][] shapes = {{2 * p, 3}, {3, 3 * p, 5}, {2, 3, p}, {p}};
        int[] dims = {0, 1, 2, -1};
        List<List<float[]>> got = InJvmCluster.run(p, TIMEOUT, comm -> {
            List<float[]> results = new ArrayList<>();
            try (MemoryScope scope = MemoryScope.open("rank")) {
                for (int s = 0; s < shapes.length; s++) {
                    Tensor in = input(comm.rank(), s, shapes[s]);
                    int[] outShape = shapes[s].clone();
                    int d = dims[s] < 0 ? dims[s] + outShape.length : dims[s];
                    outShape[d] /= comm.size();
                    Tensor out = Tensor.zeros(DType.F32, outShape);
                    comm.reduceScatter(in, out, dims[s]);
                    results.add(out.toFloatArray());
                }
            }
            return results;
        });
        try (MemoryScope scope = MemoryScope.open("expected")) {
            for (int s = 0; s < shapes.length; s++) {
                int d = dims[s] < 0 ? dims[s] + shapes[s].length : dims[s];
                int slab = shapes[s][d] / p;
                for (int r = 0; r < p; r++) {
                    float[] want = null;
                    for (int j = 0; j < p; j++) {
                        float[] part = input(j, s, shapes[s]).narrow(d, r * slab, slab).contiguous().toFloatArray();
                        if (want == null) want = part;
                        else for (int i = 0; i < want.length; i++) want[i] += part[i];
                    }
                    assertThat(got.get(r).get(s)).as("rank %d shape %d", r, s).containsExactly(want);
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4, 8})
    void allToAllScattersOneDimAndGathersAnother(int p) {
        // {in shape, scatter dim, gather dim}: heads -> sequence (Ulysses), the reverse, the same dim, outer/inner.
        int[][] shapes = {{2, 3, 2 * p, 5}, {2, 3 * p, 2, 5}, {2, 3 * p, 4}, {p, 1, 3, 2}, {3, 2 * p}};
        int[][] sg = {{2, 1}, {1, 2}, {1, 1}, {0, 3}, {1, 0}};
        List<List<float[]>> got = InJvmCluster.run(p, TIMEOUT, comm -> {
            List<float[]> results = new ArrayList<>();
            try (MemoryScope scope = MemoryScope.open("rank")) {
                for (int s = 0; s < shapes.length; s++) {
                    Tensor in = input(comm.rank(), s, shapes[s]);
                    int[] outShape = shapes[s].clone();
                    outShape[sg[s][0]] /= comm.size();
                    outShape[sg[s][1]] *= comm.size();
                    Tensor out = Tensor.zeros(DType.F32, outShape);
                    comm.allToAll(in, out, sg[s][0], sg[s][1]);
                    results.add(out.toFloatArray());
                }
            }
            return results;
        });
        try (MemoryScope scope = MemoryScope.open("expected")) {
            for (int s = 0; s < shapes.length; s++) {
                int sd = sg[s][0], gd = sg[s][1], slab = shapes[s][sd] / p;
                for (int r = 0; r < p; r++) {
                    Tensor[] received = new Tensor[p];
                    for (int j = 0; j < p; j++) received[j] = input(j, s, shapes[s]).narrow(sd, r * slab, slab);
                    float[] want = Ops.concat(gd, received).toFloatArray();
                    assertThat(got.get(r).get(s)).as("rank %d case %d", r, s).containsExactly(want);
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4, 8})
    void allToAllThereAndBackIsTheIdentity(int p) {
        // DSP's dynamic switch: [B, T/P, S, C] -> [B, T, S/P, C] -> back.
        List<Boolean> same = InJvmCluster.run(p, TIMEOUT, comm -> {
            try (MemoryScope scope = MemoryScope.open("rank")) {
                Tensor x = input(comm.rank(), 9, 2, 3, 2 * p, 3);
                Tensor switched = Tensor.zeros(DType.F32, 2, 3 * p, 2, 3);
                Tensor back = Tensor.zeros(DType.F32, 2, 3, 2 * p, 3);
                comm.allToAll(x, switched, 2, 1);
                comm.allToAll(switched, back, 1, 2);
                return java.util.Arrays.equals(x.toFloatArray(), back.toFloatArray());
            }
        });
        assertThat(same).containsOnly(true);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4, 8})
    void allReduceSumsInPlaceIdenticallyOnEveryRank(int p) {
        int[] lengths = {1, 7, 13, 64, 4099};
        List<List<float[]>> got = InJvmCluster.run(p, TIMEOUT, comm -> {
            List<float[]> results = new ArrayList<>();
            try (MemoryScope scope = MemoryScope.open("rank")) {
                for (int n : lengths) {
                    Tensor x = input(comm.rank(), n, n);
                    comm.allReduce(x);
                    results.add(x.toFloatArray());
                }
                Tensor m = input(comm.rank(), 5, 3, 5, 2);
                comm.allReduce(m);
                results.add(m.toFloatArray());
            }
            return results;
        });
        int[] all = {1, 7, 13, 64, 4099, 30};
        for (int k = 0; k < all.length; k++) {
            int n = all[k];
            int which = k < lengths.length ? n : 5;
            float[] want = data(0, which, n);
            for (int j = 1; j < p; j++) {
                float[] v = data(j, which, n);
                for (int i = 0; i < n; i++) want[i] += v[i];
            }
            for (int r = 0; r < p; r++) assertThat(got.get(r).get(k)).as("rank %d length %d", r, n).containsExactly(want);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4, 8})
    void halfPrecisionSumsInF32AndRoundsOnce(int p) {
        for (DType dt : new DType[] {DType.F16, DType.BF16}) {
            List<float[][]> got = InJvmCluster.run(p, TIMEOUT, comm -> {
                try (MemoryScope scope = MemoryScope.open("rank")) {
                    Tensor x = input(comm.rank(), 3, 2 * p, 5).to(dt);
                    Tensor out = Tensor.zeros(dt, 2, 5);
                    comm.reduceScatter(x, out, 0);
                    Tensor y = input(comm.rank(), 4, 37).to(dt);
                    comm.allReduce(y);
                    return new float[][] {out.toFloatArray(), y.toFloatArray()};
                }
            });
            for (int r = 0; r < p; r++) {
                float[] rs = roundedSum(dt, p, 3, 10 * p, r * 10, 10);
                float[] ar = roundedSum(dt, p, 4, 37, 0, 37);
                assertThat(got.get(r)[0]).as("%s reduceScatter rank %d", dt, r).containsExactly(rs);
                assertThat(got.get(r)[1]).as("%s allReduce rank %d", dt, r).containsExactly(ar);
            }
        }
    }

    /** Sum in rank order of every rank's values rounded to dt, over [from, from + len), rounded once. */
    private static float[] roundedSum(DType dt, int p, int which, int n, int from, int len) {
        float[] sum = new float[len];
        for (int j = 0; j < p; j++) {
            float[] v = data(j, which, n);
            for (int i = 0; i < len; i++) sum[i] += round(dt, v[from + i]);
        }
        for (int i = 0; i < len; i++) sum[i] = round(dt, sum[i]);
        return sum;
    }

    private static float round(DType dt, float v) {
        return dt == DType.F16 ? FloatFormats.f16ToFloat(FloatFormats.floatToF16(v)) : FloatFormats.bf16ToFloat(FloatFormats.floatToBf16(v));
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 3, 8})
    void intAllReduceAndGather(int p) {
        List<int[]> got = InJvmCluster.run(p, TIMEOUT, comm -> {
            try (MemoryScope scope = MemoryScope.open("rank")) {
                Tensor ids = Tensor.ofInts(new int[] {comm.rank(), 10 * comm.rank(), 1}, 3);
                comm.allReduce(ids);
                Tensor gathered = Tensor.zeros(DType.I32, 2 * comm.size());
                comm.allGather(Tensor.ofInts(new int[] {comm.rank(), -comm.rank()}, 2), gathered, 0);
                int[] a = ids.toIntArray(), b = gathered.toIntArray();
                int[] both = java.util.Arrays.copyOf(a, a.length + b.length);
                System.arraycopy(b, 0, both, a.length, b.length);
                return both;
            }
        });
        int tri = p * (p - 1) / 2;
        int[] want = new int[3 + 2 * p];
        want[0] = tri;
        want[1] = 10 * tri;
        want[2] = p;
        for (int j = 0; j < p; j++) {
            want[3 + 2 * j] = j;
            want[4 + 2 * j] = -j;
        }
        for (int[] g : got) assertThat(g).containsExactly(want);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4, 8})
    void barrierWaitsForEveryRank(int p) {
        AtomicInteger arrived = new AtomicInteger();
        List<Boolean> ok = InJvmCluster.run(p, TIMEOUT, comm -> {
            boolean good = true;
            for (int phase = 1; phase <= 5; phase++) {
                if (comm.rank() == phase % comm.size()) Thread.sleep(5);
                arrived.incrementAndGet();
                comm.barrier();
                good &= arrived.get() >= phase * comm.size();
                comm.barrier();
            }
            return good;
        });
        assertThat(ok).containsOnly(true);
        assertThat(arrived.get()).isEqualTo(5 * p);
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 3})
    void bytesMoveUnchangedForEveryDtypeAndInPlaceGatherWorks(int p) {
        List<float[][]> got = InJvmCluster.run(p, TIMEOUT, comm -> {
            try (MemoryScope scope = MemoryScope.open("rank")) {
                Tensor q = input(comm.rank(), 1, 2, 64).to(DType.Q8_0);
                Tensor qs = Tensor.zeros(DType.Q8_0, 2, 64 * p);
                comm.allGather(q, qs, 1);
                Tensor b = input(comm.rank(), 2, 3, 2 * p).to(DType.BF16);
                Tensor bs = Tensor.zeros(DType.BF16, 3 * p, 2);
                comm.allToAll(b, bs, 1, 0);
                // In place: the local piece is this rank's slot of out.
                Tensor out = Tensor.zeros(DType.F32, 2 * p, 3);
                Ops.copyInto(input(comm.rank(), 3, 2, 3), out.narrow(0, 2 * comm.rank(), 2));
                comm.allGather(out.narrow(0, 2 * comm.rank(), 2), out, 0);
                return new float[][] {qs.toFloatArray(), bs.toFloatArray(), out.toFloatArray()};
            }
        });
        try (MemoryScope scope = MemoryScope.open("expected")) {
            Tensor[] qs = new Tensor[p], bs = new Tensor[p], fs = new Tensor[p];
            for (int r = 0; r < p; r++) {
                qs[r] = Ops.dequantize(input(r, 1, 2, 64).to(DType.Q8_0));
                fs[r] = input(r, 3, 2, 3);
            }
            float[] wantQ = Ops.concat(1, qs).toFloatArray();
            float[] wantF = Ops.concat(0, fs).toFloatArray();
            for (int r = 0; r < p; r++) {
                for (int j = 0; j < p; j++) bs[j] = input(j, 2, 3, 2 * p).to(DType.BF16).narrow(1, 2 * r, 2);
                assertThat(got.get(r)[0]).containsExactly(wantQ);
                assertThat(got.get(r)[1]).containsExactly(Ops.concat(0, bs).toFloatArray());
                assertThat(got.get(r)[2]).containsExactly(wantF);
            }
        }
    }
}
