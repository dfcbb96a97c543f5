package dev.corvus.train;

import dev.corvus.comm.Communicator;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * The gradient all-reduce of a data- or sequence-parallel step in buckets: every parameter's F32
 * gradient, in the parameters' order, read as one flat vector and cut into buckets of
 * {@code bucketElements} elements (the last shorter); each bucket is copied into one buffer,
 * all-reduced in one call and copied back. A parameter may straddle a bucket boundary, and one
 * larger than a bucket spans several, so the buffer is never larger than a bucket (unlike
 * PyTorch DDP, which gives an oversized parameter a bucket of its own). {@link #PER_PARAMETER}
 * (0) all-reduces each gradient in place by itself instead, one call per parameter.
 *
 * <p>Why: each all-reduce is a collective with a fixed cost (in-JVM: a round of messages and a
 * wake-up per peer; MPI: the argument check's small all-gather plus the MPI call's latency), paid
 * once per bucket instead of once per tensor; stories15M has 57 tensors, 3 buckets of 25 MiB.
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

    /** All-reduce calls one step makes: a parameter each, or ⌈total / bucket⌉. */
    public static long calls(List<Parameter> parameters, long bucketElements) {
        check(bucketElements);
        if (bucketElements == PER_PARAMETER) return parameters.size();
        return Math.ceilDiv(total(parameters), bucketElements);
    }

    /** Sums every parameter's gradient over {@code comm}'s ranks, in place, in buckets; a collective. Returns the all-reduce calls made. */
    public static long allReduce(Communicator comm, List<Parameter> parameters, long bucketElements) {
        check(bucketElements);
        if (bucketElements == PER_PARAMETER) {
            for (Parameter p : parameters) comm.allReduce(p.grad());
            return parameters.size();
        }
        long total = total(parameters);
        if (total == 0) return 0;
        long calls = 0;
        try (MemoryScope scope = MemoryScope.open("gradient bucket")) {
            Tensor buffer = Tensor.zeros(scope, DType.F32, Math.toIntExact(Math.min(bucketElements, total)));
            MemorySegment buf = UpdateKernels.memory(buffer);
            for (long start = 0; start < total; start += bucketElements) {
                long length = Math.min(bucketElements, total - start);
                move(parameters, start, length, buf, true);
                comm.allReduce(length == buffer.numel() ? buffer : buffer.narrow(0, 0, (int) length));
                move(parameters, start, length, buf, false);
                calls++;
            }
        }
        return calls;
    }

    /**
     * Bytes rank {@code rank} of {@code ranks} sends in {@link #allReduce}: per call over n
     * elements, (4n - own chunk) + (P - 1)·own chunk, rank r's chunk being [r·n/P, (r+1)·n/P), as
     * {@link Communicator#stats()} counts it.
     */
    public static long bytes(List<Parameter> parameters, long bucketElements, int ranks, int rank) {
        check(bucketElements);
        long bytes = 0;
        if (bucketElements == PER_PARAMETER) {
            for (Parameter p : parameters) bytes += allReduceBytes(p.numel(), ranks, rank);
            return bytes;
        }
        long total = total(parameters);
        for (long start = 0; start < total; start += bucketElements) bytes += allReduceBytes(Math.min(bucketElements, total - start), ranks, rank);
        return bytes;
    }

    private static long allReduceBytes(long n, int ranks, int rank) {
        long own = (long) Float.BYTES * ((rank + 1) * n / ranks - rank * n / ranks);
        return (Float.BYTES * n - own) + (ranks - 1) * own;
    }

    private static long total(List<Parameter> parameters) {
        long total = 0;
        for (Parameter p : parameters) total += p.numel();
        return total;
    }

    /** Copies flat elements [start, start + length) of the gradients into the buffer ({@code in}) or back out of it. */
    private static void move(List<Parameter> parameters, long start, long length, MemorySegment buf, boolean in) {
        long at = 0, end = start + length;
        for (Parameter p : parameters) {
            long n = p.numel(), from = Math.max(start, at), to = Math.min(end, at + n);
            if (from < to) {
                MemorySegment g = p.gradMemory();
                long gradByte = (from - at) * Float.BYTES, bufByte = (from - start) * Float.BYTES, bytes = (to - from) * Float.BYTES;
                if (in) MemorySegment.copy(g, gradByte, buf, bufByte, bytes);
                else MemorySegment.copy(buf, bufByte, g, gradByte, bytes);
            }
            at += n;
            if (at >= end) break;
        }
    }
}
