package dev.corvus.comm;

import dev.corvus.comm.Mailbox.Message;
import dev.corvus.comm.Mailbox.Pending;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.Shapes;
import dev.corvus.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A {@link Communicator} whose ranks are threads of one JVM. Create the ranks with
 * {@link InJvmCluster#run} (one thread per rank, failures propagated) or {@link InJvmCluster#create}
 * (you bring the threads). One instance belongs to one rank and is used by one thread at a time;
 * different instances (a rank's root group and its sub-groups) may be used from different threads
 * at once.
 *
 * <h2>How data moves</h2>
 * Every transfer is a message: the sender copies the bytes it sends into a fresh heap buffer at
 * call time and posts it to the group's mailbox (so every send is buffered and never blocks), and
 * the receiver copies them into its own tensor. Point-to-point messages are matched by (source,
 * dest, tag) in FIFO order; collective messages travel on a separate channel per (source, dest),
 * paired by call order and checked against the collective's name and sequence number, so a rank
 * that calls a different collective gets a {@link CommException} naming both. Each collective
 * message also carries its sender's {@link Signature} (dtype, input shape, dims); a rank writes
 * its output only after it has every peer's message and all signatures equal, else every rank
 * throws a {@link CommException} naming rank 0's and the first differing rank's arguments (equal
 * byte counts are not enough: [2, 3] against [3, 2] would scramble the result). Each group (the
 * root and every {@link #subGroup sub-group}) has its own mailbox, so traffic of different groups
 * never mixes. Sub-group mailboxes are keyed by the set of ranks, so members that list the same
 * ranks in different orders meet and get a mismatch error instead of waiting in two groups.
 *
 * <h2>Byte accounting (exact)</h2>
 * {@link #stats()} counts only bytes that leave this rank for <em>another</em> rank; what a rank
 * keeps for itself is free. With P = {@link #size()} and "bytes" the tensor's byte size
 * ({@code dtype.byteSize(numel)}):
 * <ul>
 *   <li>{@link OpKind#SEND}: the message's bytes per {@link #send}; a send to oneself counts 0.</li>
 *   <li>{@link OpKind#ALL_GATHER}: (P−1) × local bytes (this rank's piece goes to each other rank).</li>
 *   <li>{@link OpKind#REDUCE_SCATTER}: (P−1)/P × in bytes (slab j goes to rank j; the sums are
 *       formed, in rank order 0..P−1, by the slab's owner).</li>
 *   <li>{@link OpKind#ALL_TO_ALL}: (P−1)/P × in bytes (slab j goes to rank j).</li>
 *   <li>{@link OpKind#ALL_REDUCE}: 2(P−1)/P × bytes, as a reduce-scatter then an all-gather over the
 *       flattened tensor. Its chunks are the ranges [j·n/P, (j+1)·n/P) of the n elements; when P
 *       does not divide n they differ by one element and the count is the bytes actually sent:
 *       (bytes − own chunk's bytes) + (P−1) × own chunk's bytes.</li>
 *   <li>{@link OpKind#BARRIER}: 0 (it exchanges empty messages).</li>
 * </ul>
 * Receiving counts nothing; P = 1 counts nothing. A sub-group shares its root rank's
 * {@link CommStats} object, so its traffic shows in the root's (and every ancestor's) stats.
 *
 * <h2>Failures</h2>
 * The ranks share a cluster state. When a rank fails (its body throws under
 * {@link InJvmCluster#run}, or it calls {@link #abort}), every rank's blocked and later calls throw
 * a {@link RankFailureException} "rank 2 failed: &lt;cause&gt;" within milliseconds (waits poll the
 * state every 10 ms). A rank that {@link #close closes} while a peer waits for a
 * message from it makes that wait fail at once, once its already-sent messages are consumed. A
 * wait with no match within {@link #timeout()} throws a {@link CommException} naming the
 * operation, the peer and the timeout. Timeouts beyond about 146 years are clamped to that.
 *
 * <h2>Limits</h2>
 * One message holds at most 2 GiB (a heap array), so a tensor sent whole, or one slab of a
 * collective, must stay below that; larger ones give a {@link CommException} asking to split.
 * Tensors must be contiguous and on the CPU; out tensors may alias the input (an all-gather whose
 * local piece is its own slot of out works: everything sent is copied before anything is written).
 *
 * <h2>Reductions</h2>
 * reduceScatter and allReduce sum F32, F16, BF16 (summed in F32, rounded once) and I32, always in
 * rank order 0..P−1, so results are deterministic and bitwise identical on every rank.
 */
public final class InJvmCommunicator implements Communicator {
    static final long SLICE_MS = 10;
    private static final long SLICE_NANOS = TimeUnit.MILLISECONDS.toNanos(SLICE_MS);

    private final ClusterState cluster;
    private final Mailbox group;
    private final int rank;
    private final int size;
    private final CommStats stats;
    private final boolean root;
    private final Map<String, Integer> subGroupsMade = new HashMap<>();
    private long collectiveSeq;
    private volatile boolean closed;

    InJvmCommunicator(ClusterState cluster, Mailbox group, int rank, CommStats stats, boolean root) {
        this.cluster = cluster;
        this.group = group;
        this.rank = rank;
        this.size = group.rootRanks.length;
        this.stats = stats;
        this.root = root;
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
        return cluster.timeout;
    }

    /** This rank's stats; a sub-group returns its root rank's object. */
    @Override
    public CommStats stats() {
        return stats;
    }

    /** This rank's number in the root group. */
    public int worldRank() {
        return group.rootRanks[rank];
    }

    // ---------------------------------------------------------------- point to point

    /**
     * Buffered: the bytes are copied before this returns and the request is already complete. A
     * send to oneself is delivered to one's own receive and counts 0 bytes.
     */
    @Override
    public Request send(Tensor data, int dest, int tag) {
        String op = "send(dest " + dest + ", tag " + tag + ")";
        begin(op);
        CollectiveArgs.send(op, data, dest, size);
        MemorySegment bytes = Slabs.copyAll(op, data);
        group.post(rank, dest, false, tag, new Message("send", -1, null, data.dtype(), data.shape(), bytes));
        if (dest != rank) stats.add(OpKind.SEND, bytes.byteSize());
        return DONE;
    }

    /**
     * Matches the oldest unmatched message from {@code source} with {@code tag} (or the next one
     * sent); {@link Request#await()} waits up to {@link #timeout()} from its call, then copies the
     * bytes into {@code into}, whose dtype and byte size must equal the message's.
     */
    @Override
    public Request receive(Tensor into, int source, int tag) {
        String op = "receive(source " + source + ", tag " + tag + ")";
        begin(op);
        CollectiveArgs.receive(op, into, source, size);
        Pending p = group.receive(source, rank, false, tag);
        return new Request() {
            private boolean done;

            @Override
            public void await() {
                if (done) return;
                Message m = take(p, op, source, deadline());
                done = true;
                long want = into.dtype().byteSize(into.numel());
                if (m.dtype() != into.dtype() || m.bytes() != want) {
                    throw new CommException(op + " on " + me() + ": the message from " + peer(source) + " holds " + m.bytes() + " bytes ("
                            + m.dtype() + " " + Shapes.str(m.shape()) + ") but the receiving tensor has " + want + " bytes ("
                            + into.dtype() + " " + Shapes.str(into.shape()) + ")");
                }
                MemorySegment.copy(m.data(), 0, into.segment(), into.byteOffset(), want);
            }
        };
    }

    private static final Request DONE = () -> {};

    // ---------------------------------------------------------------- collectives

    @Override
    public void allGather(Tensor local, Tensor out, int dim) {
        String op = "allGather";
        begin(op);
        int d = CollectiveArgs.allGather(op, local, out, dim, size);
        Signature call = Signature.allGather(local.dtype(), local.shape(), d);
        long seq = collectiveSeq++;
        long deadline = deadline();
        int piece = local.size(d);
        MemorySegment mine = Slabs.copyAll(op, local);
        for (int j = 0; j < size; j++) {
            if (j == rank) continue;
            group.post(rank, j, true, 0, new Message(op, seq, call, local.dtype(), local.shape(), mine));
            stats.add(OpKind.ALL_GATHER, mine.byteSize());
        }
        Message[] got = takeAll(op, seq, call, deadline, local.dtype(), mine.byteSize());
        Slabs.unpack(mine, 0, out, d, rank * piece, piece);
        for (int j = 0; j < size; j++) {
            if (j != rank) Slabs.unpack(got[j].data(), 0, out, d, j * piece, piece);
        }
    }

    @Override
    public void reduceScatter(Tensor in, Tensor out, int dim) {
        String op = "reduceScatter";
        begin(op);
        int d = CollectiveArgs.reduceScatter(op, in, out, dim, size);
        Signature call = Signature.reduceScatter(in.dtype(), in.shape(), d);
        long seq = collectiveSeq++;
        long deadline = deadline();
        int slab = out.size(d);
        MemorySegment[] parts = new MemorySegment[size];
        for (int j = 0; j < size; j++) {
            MemorySegment s = Slabs.pack(op, in, d, j * slab, slab);
            if (j == rank) {
                parts[j] = s;
            } else {
                group.post(rank, j, true, 0, new Message(op, seq, call, in.dtype(), out.shape(), s));
                stats.add(OpKind.REDUCE_SCATTER, s.byteSize());
            }
        }
        Message[] got = takeAll(op, seq, call, deadline, in.dtype(), parts[rank].byteSize());
        for (int j = 0; j < size; j++) {
            if (j != rank) parts[j] = got[j].data();
        }
        Slabs.sumInto(List.of(parts), in.dtype(), out.numel(), out.segment(), out.byteOffset());
    }

    @Override
    public void allToAll(Tensor in, Tensor out, int scatterDim, int gatherDim) {
        String op = "allToAll";
        begin(op);
        CollectiveArgs.AllToAll args = CollectiveArgs.allToAll(op, in, out, scatterDim, gatherDim, size);
        int sd = args.scatterDim(), gd = args.gatherDim();
        Signature call = Signature.allToAll(in.dtype(), in.shape(), sd, gd);
        long seq = collectiveSeq++;
        long deadline = deadline();
        int slab = args.slab(), piece = args.piece();
        MemorySegment mine = null;
        for (int j = 0; j < size; j++) {
            MemorySegment s = Slabs.pack(op, in, sd, j * slab, slab);
            if (j == rank) {
                mine = s;
            } else {
                group.post(rank, j, true, 0, new Message(op, seq, call, in.dtype(), args.slabShape(), s));
                stats.add(OpKind.ALL_TO_ALL, s.byteSize());
            }
        }
        Message[] got = takeAll(op, seq, call, deadline, in.dtype(), mine.byteSize());
        Slabs.unpack(mine, 0, out, gd, rank * piece, piece);
        for (int j = 0; j < size; j++) {
            if (j != rank) Slabs.unpack(got[j].data(), 0, out, gd, j * piece, piece);
        }
    }

    @Override
    public void allReduce(Tensor data) {
        String op = "allReduce";
        begin(op);
        CollectiveArgs.allReduce(op, data);
        Signature call = Signature.allReduce(data.dtype(), data.shape());
        long seq = collectiveSeq++;
        if (size == 1) return;
        long deadline = deadline();
        DType dt = data.dtype();
        long n = data.numel();
        int eb = dt.elementBytes();
        MemorySegment seg = data.segment();
        long base = data.byteOffset();
        long lo = chunkStart(n, rank), hi = chunkStart(n, rank + 1);
        // Reduce-scatter: chunk j to rank j. Every rank hears from every other here, so the
        // signatures are compared before anything is written.
        MemorySegment[] parts = new MemorySegment[size];
        for (int j = 0; j < size; j++) {
            long a = chunkStart(n, j), b = chunkStart(n, j + 1);
            MemorySegment s = Slabs.buffer(op, (b - a) * eb);
            MemorySegment.copy(seg, base + a * eb, s, 0, (b - a) * eb);
            if (j == rank) {
                parts[j] = s;
            } else {
                group.post(rank, j, true, 0, new Message(op, seq, call, dt, new int[] {(int) (b - a)}, s));
                stats.add(OpKind.ALL_REDUCE, s.byteSize());
            }
        }
        long mineBytes = (hi - lo) * eb;
        Message[] got = takeAll(op, seq, call, deadline, dt, mineBytes);
        for (int j = 0; j < size; j++) {
            if (j != rank) parts[j] = got[j].data();
        }
        MemorySegment reduced = Slabs.buffer(op, mineBytes);
        Slabs.sumInto(List.of(parts), dt, hi - lo, reduced, 0);
        // All-gather of the reduced chunks.
        for (int j = 0; j < size; j++) {
            if (j == rank) continue;
            group.post(rank, j, true, 0, new Message(op, seq, call, dt, new int[] {(int) (hi - lo)}, reduced));
            stats.add(OpKind.ALL_REDUCE, mineBytes);
        }
        MemorySegment.copy(reduced, 0, seg, base + lo * eb, mineBytes);
        for (int j = 0; j < size; j++) {
            if (j == rank) continue;
            long a = chunkStart(n, j), b = chunkStart(n, j + 1);
            Message m = takeCollective(op, seq, j, deadline);
            checkBytes(op, j, m, dt, (b - a) * eb);
            MemorySegment.copy(m.data(), 0, seg, base + a * eb, (b - a) * eb);
        }
    }

    /** Start of allReduce chunk j: chunks are [j·n/P, (j+1)·n/P), n below 2^31 (the message limit). */
    private long chunkStart(long n, int j) {
        return n * j / size;
    }

    @Override
    public void barrier() {
        String op = "barrier";
        begin(op);
        long seq = collectiveSeq++;
        long deadline = deadline();
        MemorySegment empty = MemorySegment.ofArray(new byte[0]);
        Signature call = Signature.barrier();
        for (int j = 0; j < size; j++) {
            if (j != rank) group.post(rank, j, true, 0, new Message(op, seq, call, DType.F32, new int[] {0}, empty));
        }
        takeAll(op, seq, call, deadline, DType.F32, 0);
    }

    // ---------------------------------------------------------------- groups and lifecycle

    /**
     * The sub-group of {@code ranks} (numbered in this group; its rank i is ranks[i]). Every listed
     * rank must call this with the same list, and the k-th call with a given list on one rank
     * pairs with the k-th call on the others (each gets its own mailbox). Creating it exchanges no
     * messages. Its stats object is this rank's root stats.
     *
     * @throws IllegalArgumentException if the list is empty, repeats a rank, names a rank outside
     *     [0, size()), or does not contain this rank
     */
    @Override
    public Communicator subGroup(int... ranks) {
        begin("subGroup");
        if (ranks == null || ranks.length == 0) throw new IllegalArgumentException("subGroup: the rank list is empty");
        boolean[] seen = new boolean[size];
        int mine = -1;
        for (int i = 0; i < ranks.length; i++) {
            int r = ranks[i];
            if (r < 0 || r >= size) {
                throw new IllegalArgumentException("subGroup: rank " + r + " in " + Arrays.toString(ranks) + " is outside [0, " + size + ")");
            }
            if (seen[r]) throw new IllegalArgumentException("subGroup: rank " + r + " appears twice in " + Arrays.toString(ranks));
            seen[r] = true;
            if (r == rank) mine = i;
        }
        if (mine < 0) {
            throw new IllegalArgumentException("subGroup: rank " + rank + " is not in " + Arrays.toString(ranks)
                    + "; only the listed ranks may create the sub-group");
        }
        // Keyed by the set of ranks, not the list, so that members passing the same ranks in
        // another order meet in one mailbox and are told so, instead of waiting in two.
        int[] members = ranks.clone();
        Arrays.sort(members);
        String set = Arrays.toString(members);
        int k;
        synchronized (subGroupsMade) {
            k = subGroupsMade.merge(set, 1, Integer::sum) - 1;
        }
        int[] rootRanks = new int[ranks.length];
        for (int i = 0; i < ranks.length; i++) rootRanks[i] = group.rootRanks[ranks[i]];
        String caller = me();
        Mailbox sub = cluster.group(group.id + "/" + set + "#" + k, id -> new Mailbox(id, rootRanks, ranks, caller));
        if (!Arrays.equals(sub.list, ranks)) {
            String why = "subGroup in " + groupName() + ": " + me() + " called subGroup(" + CollectiveArgs.rankList(ranks) + ") but "
                    + sub.creator + " called subGroup(" + CollectiveArgs.rankList(sub.list) + ") for the same ranks (sub-group #" + k
                    + " of " + set + "); every listed rank must pass the same list, in the same order";
            sub.poison(why);
            throw new CommException(why);
        }
        sub.join(mine);
        return new InJvmCommunicator(cluster, sub, mine, stats, false);
    }

    /**
     * Marks this rank as failed with {@code cause} (if no rank failed before), so every peer's
     * pending and later calls fail with a {@link RankFailureException} naming it, then closes.
     * {@link InJvmCluster#run} does this when a rank's body throws.
     */
    public void abort(Throwable cause) {
        cluster.fail(worldRank(), cause == null ? new CommException("aborted") : cause);
        close();
    }

    /**
     * Leaves the group: later calls on this instance fail, and a peer waiting for a message from
     * this rank fails at once (after consuming what was already sent). Closing a root
     * communicator closes this rank in every group. Not a failure: peers not waiting for this rank
     * go on. Idempotent.
     */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        if (group.markClosed(rank) && !root) cluster.forget(group.id);
        if (root) cluster.markClosed(worldRank());
    }

    @Override
    public String toString() {
        return "InJvmCommunicator[" + me() + ", size " + size + (closed ? ", closed" : "") + "]";
    }

    // ---------------------------------------------------------------- waiting

    /**
     * Takes collective #seq's message from every other rank (slot {@code rank} stays null) and
     * checks that every rank passed {@code mine}; only then may the caller write its output, so a
     * disagreement leaves every rank's tensors as they were, and every rank reports the same one.
     */
    private Message[] takeAll(String op, long seq, Signature mine, long deadline, DType dtype, long bytes) {
        Message[] got = new Message[size];
        int[] all = new int[size * Signature.INTS];
        mine.encode(all, rank * Signature.INTS);
        for (int j = 0; j < size; j++) {
            if (j == rank) continue;
            got[j] = takeCollective(op, seq, j, deadline);
            got[j].call().encode(all, j * Signature.INTS);
        }
        String problem = Signature.disagreement(op, groupName(), all, size, this::peer);
        if (problem != null) throw new CommException(problem + " (seen by " + me() + ")");
        for (int j = 0; j < size; j++) {
            if (j != rank) checkBytes(op, j, got[j], dtype, bytes);
        }
        return got;
    }

    private Message takeCollective(String op, long seq, int source, long deadline) {
        Pending p = group.receive(source, rank, true, 0);
        Message m = take(p, op, source, deadline);
        if (!m.op().equals(op) || m.seq() != seq) {
            throw new CommException("collective mismatch in " + groupName() + ": " + me() + " is in " + op + " (collective #" + seq + ") but "
                    + peer(source) + " called " + m.op() + " (collective #" + m.seq() + ")");
        }
        return m;
    }

    /** A guard under the signature check: equal signatures imply equal slabs. */
    private void checkBytes(String op, int source, Message m, DType dtype, long bytes) {
        if (m.dtype() != dtype || m.bytes() != bytes) {
            throw new IllegalStateException(op + " in " + groupName() + ": " + peer(source) + " sent " + m.bytes() + " bytes (" + m.dtype() + " "
                    + Shapes.str(m.shape()) + ") but " + me() + " expects " + bytes + " bytes of " + dtype + " although their arguments agree");
        }
    }

    /** Waits for a registered receive, checking the cluster state every slice. */
    private Message take(Pending p, String op, int source, long deadline) {
        while (true) {
            Message m;
            try {
                m = p.await(Math.max(0, Math.min(SLICE_NANOS, deadline - System.nanoTime())));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                if (group.cancel(p)) throw new CommException(op + " on " + me() + " was interrupted while waiting for " + peer(source), e);
                m = p.poll();
            }
            if (m != null) {
                group.tidy(p);
                return m;
            }
            ClusterState.Failure f = cluster.failure();
            if (f != null) {
                group.cancel(p);
                throw failed(f, op);
            }
            if (closed) {
                group.cancel(p);
                throw new CommException(op + ": " + me() + "'s communicator was closed while waiting");
            }
            String poisoned = group.poisoned();
            if (poisoned != null && group.cancel(p)) throw new CommException(op + " on " + me() + ": this sub-group is unusable: " + poisoned);
            boolean peerGone = group.isClosed(source) || cluster.isClosed(group.rootRanks[source]);
            if (peerGone || System.nanoTime() - deadline >= 0) {
                if (!group.cancel(p)) {
                    m = p.poll();
                    group.tidy(p);
                    return m;
                }
                if (peerGone) {
                    throw new CommException(op + " on " + me() + ": " + peer(source) + " closed its communicator without sending the message");
                }
                String absent = root || group.hasJoined(source) ? ""
                        : "; " + peer(source) + " never created this sub-group (every listed rank must call subGroup with the same list)";
                throw new CommException(op + " on " + me() + " timed out after " + cluster.timeout.toMillis() + " ms waiting for "
                        + peer(source) + (root ? "" : " in " + groupName()) + absent);
            }
        }
    }

    // ---------------------------------------------------------------- checks

    private void begin(String op) {
        if (closed) throw new CommException(op + ": " + me() + "'s communicator is closed");
        ClusterState.Failure f = cluster.failure();
        if (f != null) throw failed(f, op);
        String poisoned = group.poisoned();
        if (poisoned != null) throw new CommException(op + " on " + me() + ": this sub-group is unusable: " + poisoned);
    }


    private RankFailureException failed(ClusterState.Failure f, String op) {
        return new RankFailureException(f.rank(), f.message() + " (seen by world rank " + worldRank() + " in " + op + ")", f.cause());
    }

    /** Now plus the timeout, which {@link CollectiveArgs#timeoutNanos} clamps so that this cannot overflow. */
    private long deadline() {
        return System.nanoTime() + CollectiveArgs.timeoutNanos(cluster.timeout);
    }

    private String me() {
        return root ? "rank " + rank : "rank " + rank + " (world rank " + worldRank() + ")";
    }

    private String peer(int r) {
        return root ? "rank " + r : "rank " + r + " (world rank " + group.rootRanks[r] + ")";
    }

    private String groupName() {
        return root ? "the world group" : "sub-group " + Arrays.toString(group.rootRanks) + " (world ranks)";
    }

    /** The root communicators of a new cluster. */
    static List<InJvmCommunicator> cluster(int size, Duration timeout) {
        ClusterState state = new ClusterState(size, timeout);
        int[] all = new int[size];
        for (int i = 0; i < size; i++) all[i] = i;
        Mailbox world = state.group("world", id -> new Mailbox(id, all, all, "the cluster"));
        for (int r = 0; r < size; r++) world.join(r);
        List<InJvmCommunicator> out = new ArrayList<>(size);
        for (int r = 0; r < size; r++) out.add(new InJvmCommunicator(state, world, r, new CommStats(), true));
        return out;
    }

    ClusterState clusterState() {
        return cluster;
    }
}
