package dev.corvus.comm;

import dev.corvus.tensor.Tensor;
import java.time.Duration;

/**
 * A group of ranks that exchange tensors: point-to-point pairs and collectives. One instance per
 * rank; every rank of the group must make the same collective calls in the same order.
 *
 * <p>Tensors passed in must be contiguous and on the CPU; received data is written into tensors
 * the caller allocated, so memory stays scoped. Every blocking call gives up after
 * {@link #timeout()} with a {@link CommException}, and a rank that fails makes its peers' pending
 * and later calls fail fast with an error naming it, instead of hanging.
 *
 * <p>Every rank counts the bytes it sends, per {@link OpKind} ({@link #stats()}), so tests can
 * check communication-volume formulas exactly. Only bytes that leave the rank for another rank
 * count (its own slab of a collective, or a send to itself, is free); {@link InJvmCommunicator}
 * documents the formula per operation.
 */
public interface Communicator extends AutoCloseable {
    /** This rank's index in [0, size()). */
    int rank();

    /** Ranks in the group. */
    int size();

    /** How long a blocking call waits before failing. */
    Duration timeout();

    /** Bytes this rank has sent, per operation kind. */
    CommStats stats();

    /**
     * Starts sending {@code data} to rank {@code dest}. The data is captured when this returns, so
     * the caller may overwrite it at once (buffered send).
     */
    Request send(Tensor data, int dest, int tag);

    /** Starts receiving into {@code into} (same size and dtype as what the peer sends) from rank {@code source}. */
    Request receive(Tensor into, int source, int tag);

    /**
     * out = the concatenation along {@code dim} of every rank's {@code local} in rank order;
     * out's size along dim is size() times local's.
     */
    void allGather(Tensor local, Tensor out, int dim);

    /**
     * Sums {@code in} over the ranks and leaves slab {@code rank()} (of size() equal slabs along
     * {@code dim}) in {@code out}.
     */
    void reduceScatter(Tensor in, Tensor out, int dim);

    /**
     * Cuts {@code in} into size() equal slabs along {@code scatterDim}, sends slab j to rank j, and
     * writes the slabs received, in rank order, concatenated along {@code gatherDim} into {@code out}.
     */
    void allToAll(Tensor in, Tensor out, int scatterDim, int gatherDim);

    /** Sums {@code data} over the ranks, in place on every rank. */
    void allReduce(Tensor data);

    /** Returns when every rank of the group has called it. */
    void barrier();

    /**
     * The sub-group of the given ranks (numbered in this group), in that order; its rank i is
     * {@code ranks[i]} here. Every listed rank must call this with the same list; its traffic is
     * counted in this rank's stats too. A rank not in the list gets an IllegalArgumentException.
     */
    Communicator subGroup(int... ranks);

    /** A pending point-to-point operation. */
    interface Request {
        /** Blocks until done; throws {@link CommException} on timeout or peer failure. */
        void await();
    }

    @Override
    void close();
}
