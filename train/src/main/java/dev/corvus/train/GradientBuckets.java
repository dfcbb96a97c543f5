package dev.corvus.train;

import dev.corvus.comm.Communicator;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * The gradient all-reduce of a data- or sequence-parallel step in buckets of at most
 * {@code bucketElements} F32 elements, one all-reduce call each, planned over the parameters in
 * their order: a parameter of at least a bucket is all-reduced in place, in contiguous pieces of
 * a bucket (the last shorter), with no copy; smaller ones are packed whole, one after another,
 * into a buffer until the next would overflow it, then that buffer is all-reduced and copied
 * back. No small parameter is cut and the buffer never exceeds a bucket (PyTorch DDP instead gives
 * an oversized parameter a bucket of its own and copies every gradient into its buckets).
 * {@link #PER_PARAMETER} (0) all-reduces each gradient in place by itself, one call per parameter.
 *
 * <p>Why: each all-reduce is a collective with a fixed cost (in-JVM: a round of messages and a
 * wake-up per peer; MPI: the argument check's small all-gather plus the MPI call's latency), paid
 * once per bucket instead of once per tensor: stories15M's 56 gradient tensors take 3 calls of 25
 * MiB buckets. What it costs is the packing copies of the small parameters.
 *
 * <p>Exactness: the in-JVM all-reduce sums each element over the ranks in rank order 0..P-1
 * wherever the element lies in the buffer ({@code InJvmCommunicator}), so bucketed and
 * per-parameter results are the same bits (GradientBucketsTest). MPI chooses its reduction
 * algorithm, and with it the order of the P terms, by message size: on 2 ranks a + b is the same
 * either way; on more, bucketing may change the last bit of an element (every rank still gets the
 * same bits, so the ranks stay in step).
 */
public final class GradientBuckets {
    private GradientBuckets() {}

    /** One all-reduce per parameter, in place, no buffer. */
    public static final long PER_PARAMETER = 0;

    /** PyTorch DDP's default bucket, 25 MiB: 6,553,600 F32 elements. */
    public static final long DEFAULT_BUCKET_ELEMENTS = (25L << 20) / Float.BYTES;

    /** Elements of a bucket of {@code mib} MiB of F32; 0 for {@link #PER_PARAMETER}. */
    public static long elementsOfMib(double mib) {
        if (!(mib >= 0) || Double.isInfinite(mib)) throw new IllegalArgumentException("gradient bucket of " + mib + " MiB: expected 0 (one all-reduce per parameter) or more");
        if (mib == 0) return PER_PARAMETER;
        return Math.max(1, (long) (mib * (1 << 20) / Float.BYTES));
    }

    static void check(long bucketElements) {
        if (bucketElements < 0) {
            throw new IllegalArgumentException("gradient bucket of " + bucketElements + " elements: expected " + PER_PARAMETER + " (one all-reduce per parameter) or more");
        }
    }

    /** All-reduce calls one step makes: a parameter each, or one per bucket of the plan. */
    public static long calls(List<Parameter> parameters, long bucketElements) {
        check(bucketElements);
        if (bucketElements == PER_PARAMETER) return parameters.size();
        long[] calls = {0};
        plan(parameters, bucketElements, new Bucket() {
            @Override
            public void inPlace(Parameter p, long start, long length) {
                calls[0]++;
            }

            @Override
            public void packed(List<Parameter> ps, long length) {
                calls[0]++;
            }
        });
        return calls[0];
    }

    /** Sums every parameter's gradient over {@code comm}'s ranks, in place, in buckets; a collective. Returns the all-reduce calls made. */
    public static long allReduce(Communicator comm, List<Parameter> parameters, long bucketElements) {
        check(bucketElements);
        if (bucketElements == PER_PARAMETER) {
            for (Parameter p : parameters) comm.allReduce(p.grad());
            return parameters.size();
        }
        long[] calls = {0};
        try (MemoryScope scope = MemoryScope.open("gradient bucket")) {
            Tensor[] buffer = {null}; // made at the first packed bucket, of the largest one the plan packs
            plan(parameters, bucketElements, new Bucket() {
                @Override
                public void inPlace(Parameter p, long start, long length) {
                    Tensor g = p.grad();
                    comm.allReduce(length == g.numel() ? g : g.view(Math.toIntExact(g.numel())).narrow(0, Math.toIntExact(start), Math.toIntExact(length)));
                    calls[0]++;
                }

                @Override
                public void packed(List<Parameter> ps, long length) {
                    if (buffer[0] == null) buffer[0] = Tensor.zeros(scope, DType.F32, Math.toIntExact(largestPack(parameters, bucketElements)));
                    Tensor b = buffer[0];
                    MemorySegment buf = UpdateKernels.memory(b);
                    long at = 0;
                    for (Parameter p : ps) {
                        MemorySegment.copy(p.gradMemory(), 0, buf, at, Float.BYTES * p.numel());
                        at += Float.BYTES * p.numel();
                    }
                    comm.allReduce(length == b.numel() ? b : b.narrow(0, 0, Math.toIntExact(length)));
                    at = 0;
                    for (Parameter p : ps) {
                        MemorySegment.copy(buf, at, p.gradMemory(), 0, Float.BYTES * p.numel());
                        at += Float.BYTES * p.numel();
                    }
                    calls[0]++;
                }
            });
        }
        return calls[0];
    }

    /**
     * Bytes rank {@code rank} of {@code ranks} sends in {@link #allReduce}: per call over n
     * elements, (4n - own chunk) + (P - 1)·own chunk, rank r's chunk being [r·n/P, (r+1)·n/P), as
     * {@link Communicator#stats()} counts it.
     */
    public static long bytes(List<Parameter> parameters, long bucketElements, int ranks, int rank) {
        check(bucketElements);
        long[] bytes = {0};
        if (bucketElements == PER_PARAMETER) {
            for (Parameter p : parameters) bytes[0] += allReduceBytes(p.numel(), ranks, rank);
            return bytes[0];
        }
        plan(parameters, bucketElements, new Bucket() {
            @Override
            public void inPlace(Parameter p, long start, long length) {
                bytes[0] += allReduceBytes(length, ranks, rank);
            }

            @Override
            public void packed(List<Parameter> ps, long length) {
                bytes[0] += allReduceBytes(length, ranks, rank);
            }
        });
        return bytes[0];
    }

    /** One call of the plan: a piece of one parameter's gradient in place, or whole small parameters packed together. */
    private interface Bucket {
        void inPlace(Parameter p, long start, long length);

        void packed(List<Parameter> ps, long length);
    }

    /** The buckets in order: what {@link #allReduce}, {@link #calls} and {@link #bytes} all walk, so they cannot disagree. */
    private static void plan(List<Parameter> parameters, long bucketElements, Bucket bucket) {
        List<Parameter> pending = new ArrayList<>();
        long pendingElements = 0;
        for (Parameter p : parameters) {
            long n = p.numel();
            if (n == 0) continue;
            if (n >= bucketElements || pendingElements + n > bucketElements) {
                if (!pending.isEmpty()) bucket.packed(List.copyOf(pending), pendingElements);
                pending.clear();
                pendingElements = 0;
            }
            if (n >= bucketElements) {
                for (long start = 0; start < n; start += bucketElements) bucket.inPlace(p, start, Math.min(bucketElements, n - start));
            } else {
                pending.add(p);
                pendingElements += n;
            }
        }
        if (!pending.isEmpty()) bucket.packed(List.copyOf(pending), pendingElements);
    }

    /** Elements of the largest packed bucket of the plan: the buffer's size. */
    private static long largestPack(List<Parameter> parameters, long bucketElements) {
        long[] largest = {0};
        plan(parameters, bucketElements, new Bucket() {
            @Override
            public void inPlace(Parameter p, long start, long length) {}

            @Override
            public void packed(List<Parameter> ps, long length) {
                largest[0] = Math.max(largest[0], length);
            }
        });
        return largest[0];
    }

    private static long allReduceBytes(long n, int ranks, int rank) {
        long own = (long) Float.BYTES * ((rank + 1) * n / ranks - rank * n / ranks);
        return (Float.BYTES * n - own) + (ranks - 1) * own;
    }
}
