package dev.corvus.parallel;

import dev.corvus.comm.CommStats;
import dev.corvus.comm.Communicator;
import dev.corvus.tensor.Tensor;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

/** Passes everything through, but throws on send number {@code failAt} (0-based). */
final class FailingCommunicator implements Communicator {
    private final Communicator inner;
    private final int failAt;
    private final AtomicInteger sends = new AtomicInteger();

    FailingCommunicator(Communicator inner, int failAt) {
        this.inner = inner;
        this.failAt = failAt;
    }

    public int rank() {
        return inner.rank();
    }

    public int size() {
        return inner.size();
    }

    public Duration timeout() {
        return inner.timeout();
    }

    public CommStats stats() {
        return inner.stats();
    }

    public Request send(Tensor data, int dest, int tag) {
        if (sends.getAndIncrement() == failAt) throw new IllegalStateException("injected failure on send " + failAt);
        return inner.send(data, dest, tag);
    }

    public Request receive(Tensor into, int source, int tag) {
        return inner.receive(into, source, tag);
    }

    public void allGather(Tensor local, Tensor out, int dim) {
        inner.allGather(local, out, dim);
    }

    public void reduceScatter(Tensor in, Tensor out, int dim) {
        inner.reduceScatter(in, out, dim);
    }

    public void allToAll(Tensor in, Tensor out, int scatterDim, int gatherDim) {
        inner.allToAll(in, out, scatterDim, gatherDim);
    }

    public void allReduce(Tensor data) {
        inner.allReduce(data);
    }

    public void barrier() {
        inner.barrier();
    }

    public Communicator subGroup(int... ranks) {
        return inner.subGroup(ranks);
    }

    public void close() {
        inner.close();
    }
}
