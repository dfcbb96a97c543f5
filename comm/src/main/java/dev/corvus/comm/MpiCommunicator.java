package dev.corvus.comm;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.Shapes;
import dev.corvus.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;

/**
 * A {@link Communicator} whose ranks are processes of an MPI job (Open MPI through FFM, see
 * {@link Mpi}): one instance per process for the whole job ({@link #world}), and MPI
 * communicators of its own for {@link #subGroup sub-groups}. Start it under {@code mpirun -np P
 * java ...}; a plain {@code java} start is a job of size 1.
 *
 * <h2>How data moves</h2>
 * Tensors' off-heap segments are handed to MPI directly: a receive lands in the caller's tensor,
 * and a collective reads its input and writes its output in place whenever the slabs are already
 * contiguous runs (the dimension has nothing before it); otherwise the slabs are packed into (or
 * unpacked from) one scratch buffer, as {@link InJvmCommunicator} does. A {@link #send} copies its
 * tensor into a native buffer first, because the SPI lets the caller overwrite the data at once.
 * Point-to-point traffic is MPI_Isend/MPI_Irecv of MPI_BYTE, matched by (source, tag) in order.
 * Collectives are MPI-3's non-blocking ones (MPI_Iallgather, MPI_Ireduce_scatter_block,
 * MPI_Ialltoall, MPI_Iallreduce, MPI_Ibarrier), so every wait is MPI_Test polled until done or
 * {@link #timeout()}. Each communicator (the world's duplicate and every sub-group) is its own MPI
 * communicator, so traffic of different groups never mixes.
 *
 * <h2>Agreement before data moves</h2>
 * MPI trusts every rank to pass matching counts. So every collective (with P > 1) first
 * all-gathers each rank's {@link Signature}: the collective, dtype, input shape and dims, 16 ints.
 * If any differs from rank 0's, or a rank refused its own arguments, every rank throws the same
 * {@link CommException} naming the collective, rank 0's and the differing rank's arguments,
 * before any data moved, and the communicator stays usable. A barrier is that exchange alone.
 * The price is one small all-gather's latency per collective: measured at 2 ranks on a shared
 * 2-core machine under load (load average 17, so only roughly), an allReduce of 4 floats went
 * from 18-116 us to 310-330 us per call, one of 256K floats from 5.5-10 ms to 7.7-13 ms.
 *
 * <h2>Byte accounting</h2>
 * Exactly {@link InJvmCommunicator}'s formulas, computed from the shapes (MPI does not report what
 * its algorithms move): SEND the message (0 to oneself), ALL_GATHER (P−1)·local,
 * REDUCE_SCATTER and ALL_TO_ALL (P−1)/P·input, ALL_REDUCE (bytes − own chunk) + (P−1)·own chunk
 * with chunks [j·n/P, (j+1)·n/P), BARRIER 0; in the tensor's dtype. Sub-groups share the root's
 * {@link CommStats}.
 *
 * <h2>Reductions</h2>
 * F32 (MPI_FLOAT) and I32 (MPI_INT) are summed by MPI; F16 and BF16 are widened to F32 around the
 * call and rounded once, as in the in-JVM communicator (on the wire they travel as F32; the stats
 * count their own dtype's bytes). MPI's summation order is its own: results equal the in-JVM
 * ones up to float rounding, and Open MPI gives every rank the same bits.
 *
 * <h2>Failures</h2>
 * Every MPI error becomes a {@link CommException} naming the operation, the MPI call and MPI's
 * error string (communicators use MPI_ERRORS_RETURN). A wait that does not complete within
 * {@link #timeout()} throws a {@link CommException} naming the operation, the peer (or the group)
 * and the timeout; a timed-out receive is cancelled, but a timed-out collective cannot be, so its
 * communicator refuses later calls. MPI has no portable way to name a dead rank: a peer that dies
 * or stalls shows up as that timeout (or as MPI's own error, if the transport notices first). At
 * JVM exit MPI is finalised; if a collective timed out in this process it calls MPI_Abort instead,
 * so the job ends rather than hanging in MPI_Finalize. Creating a sub-group first checks, within
 * the timeout, that the listed ranks passed the same list (MPI_Comm_create_group itself would wait
 * forever otherwise); the creation proper is blocking and has no timeout.
 *
 * <h2>Limits</h2>
 * One message (a tensor sent whole, or one rank's slab of a collective) holds at most 2^31 − 1
 * bytes (MPI's int counts). Tensors must be contiguous and on the CPU. Calls on one instance come
 * from one thread at a time; if MPI gives less than MPI_THREAD_MULTIPLE, calls of different
 * instances are serialised through one lock.
 */
public final class MpiCommunicator implements Communicator {
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;
    /** Room for Open MPI's MPI_Status (24 bytes), with margin. */
    private static final long STATUS_BYTES = 64;
    private static volatile String processFailure;
    private static boolean hookInstalled;

    private final Mpi mpi;
    /** Carries the caller's traffic; {@code control} (a duplicate) only subGroup's handshakes, so user tags stay free. */
    private final MemorySegment comm, control;
    private final int rank, size;
    private final int[] worldRanks;
    private final Duration timeout;
    private final long timeoutNanos;
    private final CommStats stats;
    private final boolean root;
    private final List<PendingSend> sends = new ArrayList<>();
    private String broken;
    private boolean closed;

    private MpiCommunicator(Mpi mpi, MemorySegment comm, int[] worldRanks, Duration timeout, CommStats stats, boolean root) {
        this.mpi = mpi;
        this.comm = comm;
        this.control = mpi.dup(comm);
        this.rank = mpi.rank(comm);
        this.size = mpi.size(comm);
        this.worldRanks = worldRanks;
        this.timeout = timeout;
        this.timeoutNanos = CollectiveArgs.timeoutNanos(timeout);
        this.stats = stats;
        this.root = root;
    }

    /**
     * This process's rank in the whole MPI job: initialises MPI on first use (asking for
     * MPI_THREAD_MULTIPLE) and registers its finalisation at JVM exit. Every process of the job must
     * call this (it duplicates MPI_COMM_WORLD, a collective); each call returns a new communicator
     * with its own stats.
     *
     * @throws CommException if libmpi cannot be loaded (the message says what to install) or MPI
     *     fails to start
     */
    public static MpiCommunicator world(Duration timeout) {
        if (timeout == null || timeout.isNegative() || timeout.isZero()) throw new IllegalArgumentException("timeout must be positive, got " + timeout);
        Mpi mpi = Mpi.get();
        mpi.initOnce();
        installHook(mpi);
        MemorySegment dup = mpi.dup(mpi.commWorld);
        int n = mpi.size(dup);
        int[] identity = new int[n];
        for (int i = 0; i < n; i++) identity[i] = i;
        return new MpiCommunicator(mpi, dup, identity, timeout, new CommStats(), true);
    }

    private static synchronized void installHook(Mpi mpi) {
        if (hookInstalled) return;
        hookInstalled = true;
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (mpi.isFinalized()) return;
            String failure = processFailure;
            if (failure != null) {
                System.err.println("corvus: MPI_Abort at exit, since a collective did not complete: " + failure);
                System.err.flush();
                mpi.abort(1);
            } else {
                mpi.finalizeMpi();
            }
        }, "corvus-mpi-finalize"));
    }

    /** Ends every process of the MPI job (MPI_Abort on MPI_COMM_WORLD) with {@code code}. */
    public void abortJob(int code) {
        mpi.abort(code);
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public Duration timeout() {
        return timeout;
    }

    /** This rank's stats; a sub-group returns its root's object. */
    @Override
    public CommStats stats() {
        return stats;
    }

    /** This rank's number in MPI_COMM_WORLD. */
    public int worldRank() {
        return worldRanks[rank];
    }

    // ---------------------------------------------------------------- point to point

    private record PendingSend(Arena arena, MemorySegment request, MemorySegment flag) {}

    /**
     * Copies {@code data} into a native buffer and starts MPI_Isend from it; the buffer is freed
     * when the send completes ({@link Request#await()}, or noticed by a later call). A send to
     * oneself counts 0 bytes.
     */
    @Override
    public Request send(Tensor data, int dest, int tag) {
        String op = "send(dest " + dest + ", tag " + tag + ")";
        begin(op);
        CollectiveArgs.send(op, data, dest, size);
        long bytes = bytes(data);
        int count = count(op, bytes);
        Arena arena = Arena.ofShared();
        MemorySegment buf = arena.allocate(Math.max(1, bytes), 64);
        MemorySegment.copy(data.segment(), data.byteOffset(), buf, 0, bytes);
        MemorySegment request = arena.allocate(ValueLayout.ADDRESS), flag = arena.allocate(INT);
        try {
            mpi.isend(buf, count, dest, tag, comm, request);
        } catch (CommException e) {
            arena.close();
            throw new CommException(op + " on " + me() + ": " + e.getMessage(), e);
        }
        if (dest != rank) stats.add(OpKind.SEND, bytes);
        PendingSend pending = new PendingSend(arena, request, flag);
        synchronized (sends) {
            sends.add(pending);
        }
        return () -> {
            synchronized (sends) {
                if (!sends.contains(pending)) return;
            }
            waitFor(op, request, flag, Mpi.STATUS_IGNORE, System.nanoTime() + timeoutNanos, peer(dest), false);
            synchronized (sends) {
                if (sends.remove(pending)) pending.arena().close();
            }
        };
    }

    /**
     * Starts MPI_Irecv straight into {@code into}; {@link Request#await()} waits up to
     * {@link #timeout()} from its call, then checks the message had exactly into's byte size.
     */
    @Override
    public Request receive(Tensor into, int source, int tag) {
        String op = "receive(source " + source + ", tag " + tag + ")";
        begin(op);
        CollectiveArgs.receive(op, into, source, size);
        long want = bytes(into);
        int count = count(op, want);
        Arena arena = Arena.ofShared();
        boolean direct = into.segment().isNative();
        MemorySegment buf = direct ? into.segment().asSlice(into.byteOffset(), want) : arena.allocate(Math.max(1, want), 64);
        MemorySegment request = arena.allocate(ValueLayout.ADDRESS), flag = arena.allocate(INT), status = arena.allocate(STATUS_BYTES, 8);
        try {
            mpi.irecv(buf, count, source, tag, comm, request);
        } catch (CommException e) {
            arena.close();
            throw new CommException(op + " on " + me() + ": " + e.getMessage(), e);
        }
        return new Request() {
            private boolean done;

            @Override
            public void await() {
                if (done) return;
                try {
                    waitFor(op, request, flag, status, System.nanoTime() + timeoutNanos, peer(source), false);
                } catch (CommException e) {
                    done = true;
                    try {
                        mpi.cancel(request);
                        mpi.test(op, request, flag, Mpi.STATUS_IGNORE);
                    } catch (CommException ignored) {
                        // the request stays with MPI; its buffer is leaked deliberately
                    }
                    throw e;
                }
                done = true;
                int got = mpi.receivedBytes(status, flag);
                if (got != want) {
                    arena.close();
                    throw new CommException(op + " on " + me() + ": the message from " + peer(source) + " holds " + got
                            + " bytes but the receiving tensor has " + want + " bytes (" + into.dtype() + " " + Shapes.str(into.shape()) + ")");
                }
                if (!direct) MemorySegment.copy(buf, 0, into.segment(), into.byteOffset(), want);
                arena.close();
            }
        };
    }

    // ---------------------------------------------------------------- collectives

    @Override
    public void allGather(Tensor local, Tensor out, int dim) {
        String op = "allGather";
        begin(op);
        int d = validated(op, Signature.Kind.ALL_GATHER, () -> CollectiveArgs.allGather(op, local, out, dim, size));
        agree(op, Signature.allGather(local.dtype(), local.shape(), d));
        long localBytes = bytes(local);
        int count = count(op, localBytes);
        int piece = local.size(d);
        try (Scratch s = new Scratch()) {
            MemorySegment send = s.input(local, overlaps(local, out));
            boolean direct = Slabs.outer(out.shape(), d) == 1;
            MemorySegment recv = direct ? s.output(out) : s.allocate(localBytes * size);
            collective(op, s, request -> mpi.iallgather(send, recv, count, comm, request));
            if (direct) {
                s.finishOutput(out, recv);
            } else {
                for (int j = 0; j < size; j++) Slabs.unpack(recv, j * localBytes, out, d, j * piece, piece);
            }
        }
        stats.add(OpKind.ALL_GATHER, (size - 1) * localBytes);
    }

    @Override
    public void reduceScatter(Tensor in, Tensor out, int dim) {
        String op = "reduceScatter";
        begin(op);
        int d = validated(op, Signature.Kind.REDUCE_SCATTER, () -> CollectiveArgs.reduceScatter(op, in, out, dim, size));
        agree(op, Signature.reduceScatter(in.dtype(), in.shape(), d));
        DType dt = in.dtype();
        int slab = out.size(d);
        long slabBytes = Slabs.slabBytes(in, d, slab);
        long slabElems = out.numel();
        count(op, Math.max(slabBytes, slabElems * 4) * size);
        int count = (int) slabElems; // elements per rank
        try (Scratch s = new Scratch()) {
            MemorySegment packed;
            if (Slabs.outer(in.shape(), d) == 1) {
                packed = s.input(in, overlaps(in, out));
            } else {
                packed = s.allocate(slabBytes * size);
                for (int j = 0; j < size; j++) Slabs.packInto(in, d, j * slab, slab, packed, j * slabBytes);
            }
            if (dt == DType.F16 || dt == DType.BF16) {
                MemorySegment wide = s.allocate(slabElems * size * 4), sum = s.allocate(slabElems * 4);
                Slabs.widen(dt, packed, 0, wide, slabElems * size);
                collective(op, s, request -> mpi.ireduceScatterBlock(wide, sum, count, mpi.mpiFloat, comm, request));
                Slabs.narrow(dt, sum, out.segment(), out.byteOffset(), slabElems);
            } else {
                MemorySegment recv = s.output(out);
                MemorySegment type = dt == DType.I32 ? mpi.mpiInt : mpi.mpiFloat;
                collective(op, s, request -> mpi.ireduceScatterBlock(packed, recv, count, type, comm, request));
                s.finishOutput(out, recv);
            }
        }
        stats.add(OpKind.REDUCE_SCATTER, (size - 1) * slabBytes);
    }

    @Override
    public void allToAll(Tensor in, Tensor out, int scatterDim, int gatherDim) {
        String op = "allToAll";
        begin(op);
        CollectiveArgs.AllToAll args =
                validated(op, Signature.Kind.ALL_TO_ALL, () -> CollectiveArgs.allToAll(op, in, out, scatterDim, gatherDim, size));
        int sd = args.scatterDim(), gd = args.gatherDim();
        agree(op, Signature.allToAll(in.dtype(), in.shape(), sd, gd));
        int slab = args.slab(), piece = args.piece();
        long slabBytes = Slabs.slabBytes(in, sd, slab);
        int count = count(op, slabBytes);
        try (Scratch s = new Scratch()) {
            MemorySegment send;
            if (Slabs.outer(in.shape(), sd) == 1) {
                send = s.input(in, overlaps(in, out));
            } else {
                send = s.allocate(slabBytes * size);
                for (int j = 0; j < size; j++) Slabs.packInto(in, sd, j * slab, slab, send, j * slabBytes);
            }
            boolean direct = Slabs.outer(out.shape(), gd) == 1;
            MemorySegment recv = direct ? s.output(out) : s.allocate(slabBytes * size);
            collective(op, s, request -> mpi.ialltoall(send, recv, count, comm, request));
            if (direct) {
                s.finishOutput(out, recv);
            } else {
                for (int j = 0; j < size; j++) Slabs.unpack(recv, j * slabBytes, out, gd, j * piece, piece);
            }
        }
        stats.add(OpKind.ALL_TO_ALL, (size - 1) * slabBytes);
    }

    @Override
    public void allReduce(Tensor data) {
        String op = "allReduce";
        begin(op);
        validated(op, Signature.Kind.ALL_REDUCE, () -> {
            CollectiveArgs.allReduce(op, data);
            return null;
        });
        if (size == 1) return;
        agree(op, Signature.allReduce(data.dtype(), data.shape()));
        DType dt = data.dtype();
        long n = data.numel();
        count(op, n * 4);
        int count = (int) n;
        try (Scratch s = new Scratch()) {
            if (dt == DType.F16 || dt == DType.BF16) {
                MemorySegment wide = s.allocate(n * 4);
                Slabs.widen(dt, data.segment(), data.byteOffset(), wide, n);
                collective(op, s, request -> mpi.iallreduceInPlace(wide, count, mpi.mpiFloat, comm, request));
                Slabs.narrow(dt, wide, data.segment(), data.byteOffset(), n);
            } else {
                MemorySegment buf = s.input(data, false);
                MemorySegment type = dt == DType.I32 ? mpi.mpiInt : mpi.mpiFloat;
                collective(op, s, request -> mpi.iallreduceInPlace(buf, count, type, comm, request));
                s.finishOutput(data, buf);
            }
        }
        long eb = dt.elementBytes();
        long own = (n * (rank + 1) / size - n * rank / size) * eb;
        stats.add(OpKind.ALL_REDUCE, (n * eb - own) + (size - 1) * own);
    }

    /** The signature exchange every collective starts with is itself a barrier: no rank gets all headers before every rank sent its own. */
    @Override
    public void barrier() {
        String op = "barrier";
        begin(op);
        if (size > 1) agree(op, Signature.barrier());
    }

    // ---------------------------------------------------------------- agreeing on the arguments

    /**
     * Runs a collective's local validation; if it fails, still takes part in the signature
     * exchange (as a refusal), so the other ranks fail at once naming this one instead of waiting
     * for it until the timeout, then throws the validation error.
     */
    private <T> T validated(String op, Signature.Kind kind, Supplier<T> check) {
        try {
            return check.get();
        } catch (RuntimeException e) {
            if (size > 1) {
                try {
                    exchange(op, Signature.refused(kind));
                } catch (CommException ce) {
                    e.addSuppressed(ce);
                }
            }
            throw e;
        }
    }

    /**
     * All-gathers every rank's {@link Signature} ({@link Signature#INTS} ints each) and throws a
     * {@link CommException} naming rank 0's and the first differing rank's arguments unless all
     * are equal. Sizes and offsets of the data phase are each rank's own, so without this a rank
     * with more rows made MPI overrun buffers (SIGSEGV, malloc(): invalid size) or truncate
     * (MPI_ERR_OTHER / MPI_ERR_TRUNCATE), and equal byte counts in different shapes returned
     * scrambled data as success. Every rank gets the same headers, so all throw, and since no
     * data moved the communicator stays usable. It costs one small all-gather per collective.
     */
    private void agree(String op, Signature mine) {
        if (size == 1) return;
        String problem = Signature.disagreement(op, groupName(), exchange(op, mine), size, this::peer);
        if (problem != null) throw new CommException(problem + " (seen by " + me() + ")");
    }

    private int[] exchange(String op, Signature mine) {
        int ints = Signature.INTS;
        int[] header = new int[ints];
        mine.encode(header, 0);
        int[] all = new int[ints * size];
        try (Scratch s = new Scratch()) {
            MemorySegment send = s.allocate(ints * 4L), recv = s.allocate(ints * 4L * size);
            MemorySegment.copy(header, 0, send, ValueLayout.JAVA_INT, 0, ints);
            collective(op, s, request -> mpi.iallgather(send, recv, ints * 4, comm, request));
            MemorySegment.copy(recv, ValueLayout.JAVA_INT, 0, all, 0, all.length);
        }
        return all;
    }

    // ---------------------------------------------------------------- groups and lifecycle

    /**
     * The sub-group of {@code ranks} (numbered in this group; its rank i is ranks[i]), through
     * MPI_Comm_create_group: collective over the listed ranks only, and blocking, after a
     * handshake in which they check they all passed the same list (see {@link #agreeOnGroup}).
     * Its stats object is this rank's root stats.
     *
     * @throws IllegalArgumentException if the list is empty, repeats a rank, names a rank outside
     *     [0, size()), or does not contain this rank
     */
    @Override
    public Communicator subGroup(int... ranks) {
        begin("subGroup");
        if (ranks == null || ranks.length == 0) throw new IllegalArgumentException("subGroup: the rank list is empty");
        boolean[] seen = new boolean[size];
        boolean mine = false;
        for (int r : ranks) {
            if (r < 0 || r >= size) {
                throw new IllegalArgumentException("subGroup: rank " + r + " in " + Arrays.toString(ranks) + " is outside [0, " + size + ")");
            }
            if (seen[r]) throw new IllegalArgumentException("subGroup: rank " + r + " appears twice in " + Arrays.toString(ranks));
            seen[r] = true;
            mine |= r == rank;
        }
        if (!mine) {
            throw new IllegalArgumentException("subGroup: rank " + rank + " is not in " + Arrays.toString(ranks)
                    + "; only the listed ranks may create the sub-group");
        }
        agreeOnGroup(ranks);
        MemorySegment sub;
        try {
            sub = mpi.createGroup(comm, ranks, 0);
        } catch (CommException e) {
            throw new CommException("subGroup " + Arrays.toString(ranks) + " on " + me() + ": " + e.getMessage(), e);
        }
        int[] world = new int[ranks.length];
        for (int i = 0; i < ranks.length; i++) world[i] = worldRanks[ranks[i]];
        return new MpiCommunicator(mpi, sub, world, timeout, stats, false);
    }

    /**
     * MPI_Comm_create_group waits forever when the listed ranks pass different lists (measured:
     * subGroup(0, 1) against subGroup(1, 0) hung with no output), so the listed ranks first send
     * each other their lists on the control communicator, within the timeout. The same ranks in
     * another order: every one of them throws, naming both lists, and nothing is left in flight.
     * A listed rank that does not answer (it listed other ranks, or never called) is a timeout
     * naming it; as with a timed-out collective, its message may still be in flight, so this
     * communicator refuses later calls and the job is aborted at exit.
     */
    private void agreeOnGroup(int[] ranks) {
        if (ranks.length == 1) return;
        String op = "subGroup(" + CollectiveArgs.rankList(ranks) + ")";
        int ints = size + 2;
        long bytes = ints * 4L;
        long deadline = System.nanoTime() + timeoutNanos;
        Scratch s = new Scratch();
        boolean quiet = false;
        try {
            MemorySegment mine = s.allocate(bytes);
            mine.setAtIndex(INT, 0, GROUP_MAGIC);
            mine.setAtIndex(INT, 1, ranks.length);
            for (int i = 0; i < ranks.length; i++) mine.setAtIndex(INT, 2 + i, ranks[i]);
            int n = ranks.length;
            MemorySegment[] got = new MemorySegment[n], sendReq = new MemorySegment[n], recvReq = new MemorySegment[n];
            MemorySegment flag = s.allocate(4);
            for (int i = 0; i < n; i++) {
                if (ranks[i] == rank) continue;
                got[i] = s.allocate(bytes);
                sendReq[i] = s.allocate(ValueLayout.ADDRESS.byteSize());
                recvReq[i] = s.allocate(ValueLayout.ADDRESS.byteSize());
                mpi.irecv(got[i], (int) bytes, ranks[i], 0, control, recvReq[i]);
                mpi.isend(mine, (int) bytes, ranks[i], 0, control, sendReq[i]);
            }
            for (int i = 0; i < n; i++) {
                if (ranks[i] == rank) continue;
                waitFor(op, recvReq[i], flag, Mpi.STATUS_IGNORE, deadline, peer(ranks[i]) + ", which has not called subGroup with a list that"
                        + " holds " + me() + " (every listed rank must pass the same list)", false);
            }
            for (int i = 0; i < n; i++) {
                if (ranks[i] != rank) waitFor(op, sendReq[i], flag, Mpi.STATUS_IGNORE, deadline, peer(ranks[i]), false);
            }
            quiet = true;
            for (int i = 0; i < n; i++) {
                if (ranks[i] == rank) continue;
                int[] theirs = readList(got[i]);
                if (!Arrays.equals(theirs, ranks)) {
                    throw new CommException("subGroup in " + groupName() + ": " + me() + " called " + op + " but " + peer(ranks[i]) + " called "
                            + (theirs == null ? "something that is not a Corvus subGroup handshake"
                                    : "subGroup(" + CollectiveArgs.rankList(theirs) + ")")
                            + "; every listed rank must pass the same list, in the same order");
                }
            }
        } catch (CommException e) {
            if (!quiet) {
                broken = op + " failed on " + me() + ": " + e.getMessage();
                processFailure = broken;
            }
            throw e;
        } finally {
            if (quiet) s.close();
            else s.leak();
        }
    }

    private static final int GROUP_MAGIC = 0x43565347; // "CVSG"

    /** The list in a subGroup handshake, or null if it is not one. */
    private int[] readList(MemorySegment m) {
        int n = m.getAtIndex(INT, 1);
        if (m.getAtIndex(INT, 0) != GROUP_MAGIC || n < 1 || n > size) return null;
        int[] r = new int[n];
        for (int i = 0; i < n; i++) r[i] = m.getAtIndex(INT, 2 + i);
        return r;
    }


    /**
     * Frees this communicator (MPI_Comm_free) after completing its pending sends (each up to
     * {@link #timeout()}); later calls on it fail. MPI itself is finalised at JVM exit. Idempotent.
     */
    @Override
    public void close() {
        if (closed) return;
        List<PendingSend> left;
        synchronized (sends) {
            left = new ArrayList<>(sends);
        }
        boolean clean = broken == null;
        for (PendingSend p : left) {
            try {
                waitFor("close", p.request(), p.flag(), Mpi.STATUS_IGNORE, System.nanoTime() + timeoutNanos, "a pending send's peer", false);
                synchronized (sends) {
                    if (sends.remove(p)) p.arena().close();
                }
            } catch (CommException e) {
                clean = false;
            }
        }
        closed = true;
        if (clean && !mpi.isFinalized()) {
            mpi.free(control);
            mpi.free(comm);
        }
    }

    @Override
    public String toString() {
        return "MpiCommunicator[" + me() + ", size " + size + (closed ? ", closed" : "") + "]";
    }

    // ---------------------------------------------------------------- waiting

    private interface Start {
        void start(MemorySegment request);
    }

    /** Starts a non-blocking collective and waits for it; a timeout or error breaks this communicator. */
    private void collective(String op, Scratch s, Start start) {
        MemorySegment request = s.allocate(ValueLayout.ADDRESS.byteSize()), flag = s.allocate(4);
        try {
            start.start(request);
            waitFor(op, request, flag, Mpi.STATUS_IGNORE, System.nanoTime() + timeoutNanos, null, true);
        } catch (CommException e) {
            // MPI may still write into the buffers: keep them, and refuse later calls.
            s.leak();
            broken = op + " failed on " + me() + ": " + e.getMessage();
            processFailure = broken;
            if (e.getMessage().startsWith(op)) throw e;
            throw new CommException(op + " on " + me() + " in " + groupName() + ": " + e.getMessage(), e);
        }
    }

    /**
     * Polls MPI_Test until the request completes or the deadline passes: spins briefly, then
     * yields, then parks for growing intervals (up to 1 ms), so an idle rank leaves its core to
     * the ranks that compute. Also completes finished sends.
     */
    private void waitFor(String op, MemorySegment request, MemorySegment flag, MemorySegment status, long deadline, String peer, boolean collective) {
        long park = 1_000;
        for (int spin = 0; ; spin++) {
            if (mpi.test(op, request, flag, status)) {
                reapSends();
                return;
            }
            if (System.nanoTime() - deadline >= 0) {
                String what = collective ? "the other ranks of " + groupName() + " (a peer died, stalled or called a different collective)"
                        : peer + (root ? "" : " in " + groupName());
                throw new CommException(op + " on " + me() + " timed out after " + timeout.toMillis() + " ms waiting for " + what);
            }
            if (spin < 200) {
                Thread.onSpinWait();
            } else if (spin < 400) {
                Thread.yield();
            } else {
                LockSupport.parkNanos(park);
                park = Math.min(park * 2, TimeUnit.MILLISECONDS.toNanos(1));
            }
        }
    }

    /** Frees the buffers of sends that have completed. */
    private void reapSends() {
        synchronized (sends) {
            for (Iterator<PendingSend> it = sends.iterator(); it.hasNext(); ) {
                PendingSend p = it.next();
                if (mpi.test("send", p.request(), p.flag(), Mpi.STATUS_IGNORE)) {
                    it.remove();
                    p.arena().close();
                }
            }
        }
    }

    /** Native buffers for one collective; leaked instead of freed if MPI may still use them. */
    private static final class Scratch implements AutoCloseable {
        private final Arena arena = Arena.ofConfined();
        private boolean leaked;

        MemorySegment allocate(long bytes) {
            return arena.allocate(Math.max(1, bytes), 64).asSlice(0, bytes);
        }

        /** The tensor's bytes as a native segment: the tensor itself, or a copy if it is on the heap or {@code copy}. */
        MemorySegment input(Tensor t, boolean copy) {
            long bytes = bytes(t);
            if (!copy && t.segment().isNative()) return t.segment().asSlice(t.byteOffset(), bytes);
            MemorySegment buf = allocate(bytes);
            MemorySegment.copy(t.segment(), t.byteOffset(), buf, 0, bytes);
            return buf;
        }

        /** Where MPI writes the tensor's bytes: the tensor itself, or a buffer {@link #finishOutput} copies back. */
        MemorySegment output(Tensor t) {
            long bytes = bytes(t);
            return t.segment().isNative() ? t.segment().asSlice(t.byteOffset(), bytes) : allocate(bytes);
        }

        void finishOutput(Tensor t, MemorySegment written) {
            long bytes = bytes(t);
            MemorySegment target = t.segment().asSlice(t.byteOffset(), bytes);
            if (written.address() != target.address() || !t.segment().isNative()) MemorySegment.copy(written, 0, target, 0, bytes);
        }

        void leak() {
            leaked = true;
        }

        @Override
        public void close() {
            if (!leaked) arena.close();
        }
    }

    // ---------------------------------------------------------------- checks

    private void begin(String op) {
        if (closed) throw new CommException(op + ": " + me() + "'s communicator is closed");
        if (broken != null) throw new CommException(op + " on " + me() + ": this communicator is unusable since an earlier call failed: " + broken);
    }

    private static long bytes(Tensor t) {
        return t.dtype().byteSize(t.numel());
    }

    private static boolean overlaps(Tensor a, Tensor b) {
        if (!a.segment().isNative() || !b.segment().isNative()) return false;
        long a0 = a.segment().address() + a.byteOffset(), a1 = a0 + bytes(a);
        long b0 = b.segment().address() + b.byteOffset(), b1 = b0 + bytes(b);
        return a0 < b1 && b0 < a1;
    }

    private static int count(String op, long bytes) {
        if (bytes > Integer.MAX_VALUE) {
            throw new CommException(op + ": a message of " + bytes + " bytes exceeds MPI's 2^31 - 1 count limit; split the tensor");
        }
        return (int) bytes;
    }

    private String me() {
        return root ? "rank " + rank : "rank " + rank + " (world rank " + worldRank() + ")";
    }

    private String peer(int r) {
        return root ? "rank " + r : "rank " + r + " (world rank " + worldRanks[r] + ")";
    }

    private String groupName() {
        return root ? "the world group" : "sub-group " + Arrays.toString(worldRanks) + " (world ranks)";
    }
}
