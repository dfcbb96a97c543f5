package dev.corvus.comm;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Open MPI's C API through FFM: the calls {@link MpiCommunicator} makes, each returning its error
 * code turned into a {@link CommException} naming the call and carrying MPI_Error_string's text.
 *
 * <p>Handles are addresses of Open MPI's global objects ({@code ompi_mpi_comm_world} is
 * MPI_COMM_WORLD, {@code ompi_mpi_float} is MPI_FLOAT, ...), MPI_STATUS_IGNORE is NULL and
 * MPI_IN_PLACE is the address 1 (Open MPI's mpi.h). The library is {@code libmpi.so.40} unless the
 * system property {@code corvus.mpi.library} names another one. Loaded once per JVM ({@link #get}).
 *
 * <p>If MPI gives less than MPI_THREAD_MULTIPLE, every call goes through one lock, so
 * communicators of one process may still be used from different threads.
 */
final class Mpi {
    static final String DEFAULT_LIBRARY = "libmpi.so.40";
    static final int THREAD_SERIALIZED = 2, THREAD_MULTIPLE = 3;
    static final int SUCCESS = 0;
    private static final int MAX_ERROR_STRING = 256;

    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;
    private static final java.lang.foreign.AddressLayout ADDR = ValueLayout.ADDRESS;

    final String library;
    final MemorySegment commWorld, commNull, errorsReturn, mpiByte, mpiFloat, mpiInt, opSum;
    static final MemorySegment IN_PLACE = MemorySegment.ofAddress(1);
    static final MemorySegment STATUS_IGNORE = MemorySegment.NULL;

    private final MethodHandle initThread, initialized, finalized, finalize_, abort, queryThread, errorString;
    private final MethodHandle commRank, commSize, commDup, commFree, commGroup, groupIncl, groupFree, commCreateGroup, commSetErrhandler;
    private final MethodHandle isend, irecv, test, cancel, getCount;
    private final MethodHandle iallgather, ireduceScatterBlock, ialltoall, iallreduce, ibarrier;

    private volatile ReentrantLock lock; // non-null below MPI_THREAD_MULTIPLE
    private volatile int threadLevel = -1;

    private static volatile Mpi instance;

    /** The process-wide bindings, loading the library on first use. */
    static Mpi get() {
        Mpi m = instance;
        if (m != null) return m;
        synchronized (Mpi.class) {
            if (instance == null) instance = load(System.getProperty("corvus.mpi.library", DEFAULT_LIBRARY));
            return instance;
        }
    }

    /** Binds {@code library}; fails with a message saying what to install when it is missing. */
    static Mpi load(String library) {
        SymbolLookup lookup;
        try {
            lookup = SymbolLookup.libraryLookup(library, Arena.global());
        } catch (IllegalArgumentException | UnsatisfiedLinkError e) {
            throw new CommException("MPI is not available: cannot load " + library + " (" + e.getMessage() + "). Install Open MPI"
                    + " (Debian/Ubuntu: apt-get install -y openmpi-bin libopenmpi-dev) or point -Dcorvus.mpi.library at libmpi.so", e);
        }
        return new Mpi(library, lookup);
    }

    private Mpi(String library, SymbolLookup lookup) {
        this.library = library;
        Linker linker = Linker.nativeLinker();
        commWorld = symbol(lookup, "ompi_mpi_comm_world");
        commNull = symbol(lookup, "ompi_mpi_comm_null");
        errorsReturn = symbol(lookup, "ompi_mpi_errors_return");
        mpiByte = symbol(lookup, "ompi_mpi_byte");
        mpiFloat = symbol(lookup, "ompi_mpi_float");
        mpiInt = symbol(lookup, "ompi_mpi_int");
        opSum = symbol(lookup, "ompi_mpi_op_sum");
        initThread = fn(linker, lookup, "MPI_Init_thread", INT, ADDR, ADDR, INT, ADDR);
        initialized = fn(linker, lookup, "MPI_Initialized", INT, ADDR);
        finalized = fn(linker, lookup, "MPI_Finalized", INT, ADDR);
        finalize_ = fn(linker, lookup, "MPI_Finalize", INT);
        abort = fn(linker, lookup, "MPI_Abort", INT, ADDR, INT);
        queryThread = fn(linker, lookup, "MPI_Query_thread", INT, ADDR);
        errorString = fn(linker, lookup, "MPI_Error_string", INT, INT, ADDR, ADDR);
        commRank = fn(linker, lookup, "MPI_Comm_rank", INT, ADDR, ADDR);
        commSize = fn(linker, lookup, "MPI_Comm_size", INT, ADDR, ADDR);
        commDup = fn(linker, lookup, "MPI_Comm_dup", INT, ADDR, ADDR);
        commFree = fn(linker, lookup, "MPI_Comm_free", INT, ADDR);
        commGroup = fn(linker, lookup, "MPI_Comm_group", INT, ADDR, ADDR);
        groupIncl = fn(linker, lookup, "MPI_Group_incl", INT, ADDR, INT, ADDR, ADDR);
        groupFree = fn(linker, lookup, "MPI_Group_free", INT, ADDR);
        commCreateGroup = fn(linker, lookup, "MPI_Comm_create_group", INT, ADDR, ADDR, INT, ADDR);
        commSetErrhandler = fn(linker, lookup, "MPI_Comm_set_errhandler", INT, ADDR, ADDR);
        isend = fn(linker, lookup, "MPI_Isend", INT, ADDR, INT, ADDR, INT, INT, ADDR, ADDR);
        irecv = fn(linker, lookup, "MPI_Irecv", INT, ADDR, INT, ADDR, INT, INT, ADDR, ADDR);
        test = fn(linker, lookup, "MPI_Test", INT, ADDR, ADDR, ADDR);
        cancel = fn(linker, lookup, "MPI_Cancel", INT, ADDR);
        getCount = fn(linker, lookup, "MPI_Get_count", INT, ADDR, ADDR, ADDR);
        iallgather = fn(linker, lookup, "MPI_Iallgather", INT, ADDR, INT, ADDR, ADDR, INT, ADDR, ADDR, ADDR);
        ireduceScatterBlock = fn(linker, lookup, "MPI_Ireduce_scatter_block", INT, ADDR, ADDR, INT, ADDR, ADDR, ADDR, ADDR);
        ialltoall = fn(linker, lookup, "MPI_Ialltoall", INT, ADDR, INT, ADDR, ADDR, INT, ADDR, ADDR, ADDR);
        iallreduce = fn(linker, lookup, "MPI_Iallreduce", INT, ADDR, ADDR, INT, ADDR, ADDR, ADDR, ADDR);
        ibarrier = fn(linker, lookup, "MPI_Ibarrier", INT, ADDR, ADDR);
    }

    private MemorySegment symbol(SymbolLookup lookup, String name) {
        return lookup.find(name).orElseThrow(() -> new CommException(library + " has no symbol " + name
                + "; Corvus binds Open MPI's ABI (Open MPI 4.x, libmpi.so.40), not MPICH's"));
    }

    private MethodHandle fn(Linker linker, SymbolLookup lookup, String name, ValueLayout ret, ValueLayout... args) {
        return linker.downcallHandle(symbol(lookup, name), FunctionDescriptor.of(ret, args));
    }

    // ---------------------------------------------------------------- lifecycle

    /** MPI_Init_thread asking for MULTIPLE, unless MPI is already initialised; returns the thread level. */
    synchronized int initOnce() {
        if (threadLevel >= 0) return threadLevel;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment flag = a.allocate(INT);
            check("MPI_Finalized", (int) finalized.invokeExact(flag));
            if (flag.get(INT, 0) != 0) throw new CommException("MPI was already finalized in this process; it cannot start again");
            check("MPI_Initialized", (int) initialized.invokeExact(flag));
            MemorySegment provided = a.allocate(INT);
            if (flag.get(INT, 0) == 0) {
                check("MPI_Init_thread", (int) initThread.invokeExact(MemorySegment.NULL, MemorySegment.NULL, THREAD_MULTIPLE, provided));
            } else {
                check("MPI_Query_thread", (int) queryThread.invokeExact(provided));
            }
            int level = provided.get(INT, 0);
            if (level < THREAD_MULTIPLE) lock = new ReentrantLock();
            check("MPI_Comm_set_errhandler(MPI_COMM_WORLD)", (int) commSetErrhandler.invokeExact(commWorld, errorsReturn));
            threadLevel = level;
            return level;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    boolean isFinalized() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment flag = a.allocate(INT);
            int rc = (int) finalized.invokeExact(flag);
            return rc == SUCCESS && flag.get(INT, 0) != 0;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    void finalizeMpi() {
        lock();
        try {
            check("MPI_Finalize", (int) finalize_.invokeExact());
        } catch (Throwable t) {
            throw rethrow(t);
        } finally {
            unlock();
        }
    }

    /** MPI_Abort on MPI_COMM_WORLD: ends every process of the job. */
    void abort(int code) {
        try {
            int rc = (int) abort.invokeExact(commWorld, code);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---------------------------------------------------------------- communicators

    int rank(MemorySegment comm) {
        return intOut("MPI_Comm_rank", comm, commRank);
    }

    int size(MemorySegment comm) {
        return intOut("MPI_Comm_size", comm, commSize);
    }

    private int intOut(String name, MemorySegment comm, MethodHandle h) {
        lock();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(INT);
            check(name, (int) h.invokeExact(comm, out));
            return out.get(INT, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        } finally {
            unlock();
        }
    }

    /** MPI_Comm_dup with MPI_ERRORS_RETURN set on the copy. */
    MemorySegment dup(MemorySegment comm) {
        lock();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDR);
            check("MPI_Comm_dup", (int) commDup.invokeExact(comm, out));
            MemorySegment c = out.get(ADDR, 0);
            check("MPI_Comm_set_errhandler", (int) commSetErrhandler.invokeExact(c, errorsReturn));
            return c;
        } catch (Throwable t) {
            throw rethrow(t);
        } finally {
            unlock();
        }
    }

    /**
     * MPI_Comm_create_group of {@code ranks} (numbered in {@code comm}): collective over those ranks
     * only. Returns the new communicator, with MPI_ERRORS_RETURN.
     */
    MemorySegment createGroup(MemorySegment comm, int[] ranks, int tag) {
        lock();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment group = a.allocate(ADDR), sub = a.allocate(ADDR), out = a.allocate(ADDR);
            MemorySegment list = a.allocateFrom(INT, ranks);
            check("MPI_Comm_group", (int) commGroup.invokeExact(comm, group));
            check("MPI_Group_incl", (int) groupIncl.invokeExact(group.get(ADDR, 0), ranks.length, list, sub));
            try {
                check("MPI_Comm_create_group", (int) commCreateGroup.invokeExact(comm, sub.get(ADDR, 0), tag, out));
            } finally {
                int rc1 = (int) groupFree.invokeExact(sub);
                int rc2 = (int) groupFree.invokeExact(group);
            }
            MemorySegment c = out.get(ADDR, 0);
            check("MPI_Comm_set_errhandler", (int) commSetErrhandler.invokeExact(c, errorsReturn));
            return c;
        } catch (Throwable t) {
            throw rethrow(t);
        } finally {
            unlock();
        }
    }

    void free(MemorySegment comm) {
        lock();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment handle = a.allocate(ADDR);
            handle.set(ADDR, 0, comm);
            check("MPI_Comm_free", (int) commFree.invokeExact(handle));
        } catch (Throwable t) {
            throw rethrow(t);
        } finally {
            unlock();
        }
    }

    // ---------------------------------------------------------------- non-blocking operations
    // Each starts an operation whose MPI_Request handle is written to {@code request}
    // (a pointer-sized segment that must live until the operation completes).

    void isend(MemorySegment buf, int count, int dest, int tag, MemorySegment comm, MemorySegment request) {
        call("MPI_Isend", () -> (int) isend.invokeExact(buf, count, mpiByte, dest, tag, comm, request));
    }

    void irecv(MemorySegment buf, int count, int source, int tag, MemorySegment comm, MemorySegment request) {
        call("MPI_Irecv", () -> (int) irecv.invokeExact(buf, count, mpiByte, source, tag, comm, request));
    }

    void iallgather(MemorySegment send, MemorySegment recv, int bytesPerRank, MemorySegment comm, MemorySegment request) {
        call("MPI_Iallgather", () -> (int) iallgather.invokeExact(send, bytesPerRank, mpiByte, recv, bytesPerRank, mpiByte, comm, request));
    }

    void ireduceScatterBlock(MemorySegment send, MemorySegment recv, int count, MemorySegment type, MemorySegment comm, MemorySegment request) {
        call("MPI_Ireduce_scatter_block", () -> (int) ireduceScatterBlock.invokeExact(send, recv, count, type, opSum, comm, request));
    }

    void ialltoall(MemorySegment send, MemorySegment recv, int bytesPerRank, MemorySegment comm, MemorySegment request) {
        call("MPI_Ialltoall", () -> (int) ialltoall.invokeExact(send, bytesPerRank, mpiByte, recv, bytesPerRank, mpiByte, comm, request));
    }

    void iallreduceInPlace(MemorySegment buf, int count, MemorySegment type, MemorySegment comm, MemorySegment request) {
        call("MPI_Iallreduce", () -> (int) iallreduce.invokeExact(IN_PLACE, buf, count, type, opSum, comm, request));
    }

    void ibarrier(MemorySegment comm, MemorySegment request) {
        call("MPI_Ibarrier", () -> (int) ibarrier.invokeExact(comm, request));
    }

    /** MPI_Test: whether the request completed; status may be {@link #STATUS_IGNORE}. */
    boolean test(String op, MemorySegment request, MemorySegment flag, MemorySegment status) {
        call(op + ": MPI_Test", () -> (int) test.invokeExact(request, flag, status));
        return flag.get(INT, 0) != 0;
    }

    void cancel(MemorySegment request) {
        call("MPI_Cancel", () -> (int) cancel.invokeExact(request));
    }

    /** MPI_Get_count in bytes of a completed receive's status. */
    int receivedBytes(MemorySegment status, MemorySegment out) {
        call("MPI_Get_count", () -> (int) getCount.invokeExact(status, mpiByte, out));
        return out.get(INT, 0);
    }

    // ---------------------------------------------------------------- errors

    private interface Call {
        int invoke() throws Throwable;
    }

    private void call(String name, Call c) {
        lock();
        try {
            check(name, c.invoke());
        } catch (Throwable t) {
            throw rethrow(t);
        } finally {
            unlock();
        }
    }

    private void check(String name, int rc) {
        if (rc != SUCCESS) throw new CommException(name + " failed: " + errorString(rc) + " (MPI error " + rc + ")");
    }

    /** MPI_Error_string's text for an error code. */
    String errorString(int code) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(MAX_ERROR_STRING), len = a.allocate(INT);
            int rc = (int) errorString.invokeExact(code, buf, len);
            if (rc != SUCCESS) return "unknown error";
            return buf.getString(0);
        } catch (Throwable t) {
            return "unknown error";
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new CommException("MPI call failed: " + t, t);
    }

    private void lock() {
        ReentrantLock l = lock;
        if (l != null) l.lock();
    }

    private void unlock() {
        ReentrantLock l = lock;
        if (l != null) l.unlock();
    }
}
