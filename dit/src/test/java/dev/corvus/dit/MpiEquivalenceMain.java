package dev.corvus.dit;

import dev.corvus.parallel.SequenceLayout;
import dev.corvus.parallel.ParallelHarness;
import dev.corvus.parallel.CommVolume;
import dev.corvus.attention.FlashAttention;
import dev.corvus.attention.Mask;
import dev.corvus.comm.CommException;
import dev.corvus.comm.Communicator;
import dev.corvus.comm.Communicators;
import dev.corvus.comm.OpKind;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.testing.Close;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The sequence-parallel equivalence checks over MPI, one rank per process: run by
 * {@code scripts/mpi-tests.sh} as {@code mpirun -np 4 java ... MpiEquivalenceMain equivalence}.
 * Every process computes the single-device reference itself from the same seeds and compares its
 * own shard (ring, StarTrail for every valid C, Ulysses, the video DiT's forward and training step
 * (loss, every gradient, bytes) under DSP, Ulysses and ring, and the collectives against plain sums), plus its bytes against {@link CommVolume}. Rank 0 prints one
 * line per check (failed on any rank = FAIL) and "N passed, M failed"; the exit code is 1 on
 * any failure.
 *
 * <p>{@code fail-early}: the last rank exits (System.exit) before a collective; the others must
 * fail within the timeout with a {@link CommException}, print it, and exit 3.
 */
public final class MpiEquivalenceMain {
    private MpiEquivalenceMain() {}

    private interface Check {
        void run(Communicator comm) throws Exception;
    }

    public static void main(String[] args) throws Exception {
        try (MemoryScope scope = MemoryScope.open("mpi-main")) {
            run(args);
        }
    }

    private static void run(String[] args) throws Exception {
        String mode = args.length > 0 ? args[0] : "equivalence";
        Duration timeout = Duration.ofSeconds(Long.getLong("corvus.mpi.timeoutSeconds", 60));
        Communicator comm = Communicators.fromEnvironment(timeout);
        if (mode.equals("fail-early")) {
            failEarly(comm);
            return;
        }
        List<String> names = new ArrayList<>();
        List<Check> checks = new ArrayList<>();
        int p = comm.size();
        names.add("collectives P=" + p);
        checks.add(MpiEquivalenceMain::collectives);
        for (boolean causal : new boolean[] {true, false}) {
            int heads = Math.max(4, p), kvHeads = causal ? Math.max(2, p / 2) : heads;
            names.add("ring P=" + p + " causal=" + causal + " heads " + heads + "/" + kvHeads);
            checks.add(c -> attention(c, ParallelHarness.RING, "ring", causal, heads, kvHeads, Kind.RING, 0));
            for (int t = 1; t * t <= p; t++) {
                if (p % (t * t) != 0) continue;
                int team = t;
                names.add("startrail P=" + p + " C=" + team + " causal=" + causal);
                checks.add(c -> attention(c, ParallelHarness.starTrail(team), "startrail", causal, heads, kvHeads, Kind.STAR_TRAIL, team));
            }
            // Ulysses needs both head counts divisible by P: 2P query heads, grouped (P) when causal.
            int uHeads = 2 * p, uKv = causal ? p : 2 * p;
            names.add("ulysses P=" + p + " causal=" + causal + " heads " + uHeads + "/" + uKv);
            checks.add(c -> attention(c, ParallelHarness.ULYSSES, "ulysses", causal, uHeads, uKv, Kind.ULYSSES, 0));
        }
        // The video DiT's forward and training step under each scheme (8 heads: Ulysses needs heads % P == 0, so P in {1, 2, 4, 8}).
        for (DitConfig.Schedule schedule : DitConfig.Schedule.values()) {
            for (VideoDiT.Scheme scheme : VideoDiT.Scheme.values()) {
                if (scheme == VideoDiT.Scheme.ULYSSES && 8 % p != 0) continue;
                DitConfig cfg = VideoDiTTest.config(schedule, schedule == DitConfig.Schedule.STDIT ? 2 : 3, 1);
                names.add("video DiT " + schedule + " " + scheme + " forward");
                checks.add(c -> VideoDiTTest.checkRank(c, cfg, scheme, 2));
                names.add("video DiT " + schedule + " " + scheme + " training step (loss, every gradient, bytes)");
                checks.add(c -> DitTrainingTest.checkRank(c, cfg, scheme, 2));
            }
        }

        int passed = 0, failed = 0;
        for (int i = 0; i < checks.size(); i++) {
            long start = System.nanoTime();
            String error = null;
            try {
                checks.get(i).run(comm);
            } catch (CommException e) {
                // The communicator may be unusable: report and stop.
                System.out.println("rank " + comm.rank() + ": " + names.get(i) + " FAILED with " + e);
                System.out.flush();
                System.exit(2);
            } catch (Throwable e) {
                error = e.toString();
            }
            if (error != null) System.out.println("rank " + comm.rank() + ": " + names.get(i) + " FAILED: " + error);
            Tensor bad = Tensor.ofInts(new int[] {error == null ? 0 : 1}, 1);
            comm.allReduce(bad);
            boolean ok = bad.toIntArray()[0] == 0;
            if (ok) passed++; else failed++;
            if (comm.rank() == 0) {
                System.out.println(String.format("%s %s (%d ranks, %.0f ms)", ok ? "PASS" : "FAIL", names.get(i), p,
                        (System.nanoTime() - start) / 1e6));
            }
        }
        if (comm.rank() == 0) System.out.println(passed + " passed, " + failed + " failed");
        System.out.flush();
        comm.close();
        System.exit(failed == 0 ? 0 : 1);
    }

    // ---------------------------------------------------------------- checks

    /** Each collective against sums computed locally from every rank's (seeded) input. */
    private static void collectives(Communicator comm) {
        int p = comm.size(), r = comm.rank();
        try (MemoryScope s = MemoryScope.open("collectives")) {
            // allGather along the middle dim (packing path) and dim 0 (direct path).
            for (int dim : new int[] {0, 1}) {
                int[] localShape = {2, 3, 5};
                Tensor local = Tensor.randn(100 + r, localShape);
                int[] outShape = localShape.clone();
                outShape[dim] *= p;
                Tensor out = Tensor.zeros(DType.F32, outShape);
                long before = comm.stats().bytes(OpKind.ALL_GATHER);
                comm.allGather(local, out, dim);
                for (int j = 0; j < p; j++) {
                    Tensor want = Tensor.randn(100 + j, localShape);
                    Close.assertAllClose("allGather dim " + dim + " piece " + j, want.toFloatArray(),
                            out.narrow(dim, j * localShape[dim], localShape[dim]).contiguous().toFloatArray(), 0, 0);
                }
                expect("allGather bytes", (p - 1) * 30L * 4, comm.stats().bytes(OpKind.ALL_GATHER) - before);
            }
            // reduceScatter along dim 1, F32 and BF16.
            for (DType dt : new DType[] {DType.F32, DType.BF16}) {
                int[] shape = {3, 2 * p, 4};
                Tensor in = Tensor.randn(200 + r, shape).to(dt);
                Tensor out = Tensor.zeros(dt, 3, 2, 4);
                long before = comm.stats().bytes(OpKind.REDUCE_SCATTER);
                comm.reduceScatter(in, out, 1);
                Tensor sum = Tensor.zeros(DType.F32, shape);
                float[] acc = new float[(int) sum.numel()];
                for (int j = 0; j < p; j++) {
                    float[] x = Tensor.randn(200 + j, shape).to(dt).toFloatArray();
                    for (int i = 0; i < acc.length; i++) acc[i] += x[i];
                }
                float[] want = Tensor.of(acc, shape).narrow(1, 2 * r, 2).contiguous().toFloatArray();
                Close.assertAllClose("reduceScatter " + dt, want, out.toFloatArray(), dt == DType.F32 ? 1e-5 : 0.05, dt == DType.F32 ? 1e-5 : 1e-2);
                expect("reduceScatter bytes " + dt, (p - 1) * in.dtype().byteSize(in.numel()) / p, comm.stats().bytes(OpKind.REDUCE_SCATTER) - before);
            }
            // allToAll scattering dim 2, gathering dim 1.
            {
                int[] shape = {2, 3, 2 * p, 4};
                Tensor in = Tensor.randn(300 + r, shape);
                Tensor out = Tensor.zeros(DType.F32, 2, 3 * p, 2, 4);
                long before = comm.stats().bytes(OpKind.ALL_TO_ALL);
                comm.allToAll(in, out, 2, 1);
                for (int j = 0; j < p; j++) {
                    float[] want = Tensor.randn(300 + j, shape).narrow(2, 2 * r, 2).contiguous().toFloatArray();
                    Close.assertAllClose("allToAll from rank " + j, want, out.narrow(1, 3 * j, 3).contiguous().toFloatArray(), 0, 0);
                }
                expect("allToAll bytes", (p - 1) * in.numel() * 4 / p, comm.stats().bytes(OpKind.ALL_TO_ALL) - before);
            }
            // allReduce of n not divisible by P, F32 and I32.
            {
                int n = 4 * p + 3;
                Tensor data = Tensor.randn(400 + r, n);
                long before = comm.stats().bytes(OpKind.ALL_REDUCE);
                comm.allReduce(data);
                float[] acc = new float[n];
                for (int j = 0; j < p; j++) {
                    float[] x = Tensor.randn(400 + j, n).toFloatArray();
                    for (int i = 0; i < n; i++) acc[i] += x[i];
                }
                Close.assertAllClose("allReduce F32", acc, data.toFloatArray(), 1e-5, 1e-5);
                long own = ((long) n * (r + 1) / p - (long) n * r / p) * 4;
                expect("allReduce bytes", p == 1 ? 0 : (n * 4L - own) + (p - 1) * own, comm.stats().bytes(OpKind.ALL_REDUCE) - before);
                int[] ints = new int[n];
                Arrays.fill(ints, r + 1);
                Tensor it = Tensor.ofInts(ints, n);
                comm.allReduce(it);
                for (int v : it.toIntArray()) expect("allReduce I32", p * (p + 1) / 2, v);
            }
            // send/receive around the ring, and a sub-group's allReduce.
            {
                Tensor mine = Tensor.randn(500 + r, 7), got = Tensor.zeros(DType.F32, 7);
                long before = comm.stats().bytes(OpKind.SEND);
                Communicator.Request rq = comm.receive(got, (r + p - 1) % p, 9);
                Communicator.Request sq = comm.send(mine, (r + 1) % p, 9);
                sq.await();
                rq.await();
                Close.assertAllClose("ring exchange", Tensor.randn(500 + (r + p - 1) % p, 7).toFloatArray(), got.toFloatArray(), 0, 0);
                expect("send bytes", p == 1 ? 0 : 28, comm.stats().bytes(OpKind.SEND) - before);
                int half = Math.max(1, p / 2);
                int[] members = new int[half];
                int base = r < half ? 0 : half;
                if (base + half > p) base = 0;
                for (int i = 0; i < half; i++) members[i] = base + i;
                if (r >= base && r < base + half) {
                    try (Communicator sub = comm.subGroup(members)) {
                        Tensor one = Tensor.ofInts(new int[] {r}, 1);
                        sub.allReduce(one);
                        int want = 0;
                        for (int m : members) want += m;
                        expect("sub-group " + Arrays.toString(members) + " sum", want, one.toIntArray()[0]);
                        expect("sub-group rank", r - base, sub.rank());
                    }
                }
                comm.barrier();
            }
        }
    }

    private enum Kind { RING, STAR_TRAIL, ULYSSES }

    /** One scheme on this rank's shard vs the single-device reference's shard, and bytes vs {@link CommVolume}. */
    private static void attention(Communicator comm, ParallelHarness.Scheme scheme, String what, boolean causal, int heads, int kvHeads,
            Kind kind, int team) {
        int p = comm.size(), b = 1, d = 8, n = 2 * p * 4;
        float scale = (float) (1 / Math.sqrt(d));
        try (MemoryScope s = MemoryScope.open(what)) {
            Tensor q = Tensor.randn(11, b, heads, n, d), k = Tensor.randn(12, b, kvHeads, n, d);
            Tensor v = Tensor.randn(13, b, kvHeads, n, d), dOut = Tensor.randn(14, b, heads, n, d);
            Mask mask = causal ? Mask.causal(0, 0) : Mask.NONE;
            FlashAttention.Result single = FlashAttention.forward(q, k, v, mask, scale);
            FlashAttention.Gradients grads = FlashAttention.backward(q, k, v, single.out(), single.lse(), dOut, mask, scale);

            SequenceLayout layout = scheme.layout(n, comm.rank(), p, causal);
            Tensor ql = layout.shard(q, 2), kl = layout.shard(k, 2), vl = layout.shard(v, 2), dl = layout.shard(dOut, 2);
            long before = comm.stats().totalBytes();
            FlashAttention.Result r = scheme.forward(comm, ql, kl, vl, causal, scale);
            long afterForward = comm.stats().totalBytes();
            FlashAttention.Gradients g = scheme.backward(comm, ql, kl, vl, r.out(), r.lse(), dl, causal, scale);
            long afterBackward = comm.stats().totalBytes();

            double tol = Close.reductionTolerance(n, 2e-6);
            Close.assertAllClose(what + " out", layout.shard(single.out(), 2).toFloatArray(), r.out().toFloatArray(), tol, 1e-4);
            Close.assertAllClose(what + " lse", layout.shard(single.lse(), 2).toFloatArray(), r.lse().toFloatArray(), tol, 1e-5);
            Close.assertAllClose(what + " dq", layout.shard(grads.dq(), 2).toFloatArray(), g.dq().toFloatArray(), tol * 4, 1e-3);
            Close.assertAllClose(what + " dk", layout.shard(grads.dk(), 2).toFloatArray(), g.dk().toFloatArray(), tol * 4, 1e-3);
            Close.assertAllClose(what + " dv", layout.shard(grads.dv(), 2).toFloatArray(), g.dv().toFloatArray(), tol * 4, 1e-3);

            CommVolume.Problem problem = new CommVolume.Problem(b, heads, kvHeads, n, d, p);
            long fwd = switch (kind) {
                case RING -> CommVolume.ringForward(problem);
                case ULYSSES -> CommVolume.ulyssesForward(problem);
                case STAR_TRAIL -> CommVolume.starTrailForward(problem, team)[comm.rank()];
            };
            long bwd = switch (kind) {
                case RING -> CommVolume.ringBackward(problem);
                case ULYSSES -> CommVolume.ulyssesBackward(problem);
                case STAR_TRAIL -> CommVolume.starTrailBackward(problem, team)[comm.rank()];
            };
            expect(what + " forward bytes", fwd, afterForward - before);
            expect(what + " backward bytes", bwd, afterBackward - afterForward);
        }
    }

    private static void expect(String what, long want, long got) {
        if (want != got) throw new AssertionError(what + ": expected " + want + " but got " + got);
    }

    // ---------------------------------------------------------------- failure

    private static void failEarly(Communicator comm) {
        int last = comm.size() - 1;
        comm.barrier();
        if (comm.rank() == last) {
            System.out.println("rank " + last + ": exiting early on purpose");
            System.out.flush();
            System.exit(7);
        }
        long start = System.nanoTime();
        try {
            comm.allReduce(Tensor.ofInts(new int[] {1}, 1));
            System.out.println("rank " + comm.rank() + ": UNEXPECTED: allReduce completed without rank " + last);
            System.exit(1);
        } catch (CommException e) {
            System.out.println(String.format("rank %d: failed as expected after %.1f s: %s", comm.rank(), (System.nanoTime() - start) / 1e9, e.getMessage()));
            System.out.flush();
            System.exit(3);
        }
    }
}
