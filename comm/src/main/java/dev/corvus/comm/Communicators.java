package dev.corvus.comm;

import java.time.Duration;
import java.util.List;
import java.util.Locale;

/**
 * Picks the communicator a process should use, once, from its environment:
 * <ol>
 *   <li>{@code -Dcorvus.comm=mpi}: {@link MpiCommunicator#world} (fails with what to install if
 *       libmpi is missing);</li>
 *   <li>{@code -Dcorvus.comm=local}: a single in-JVM rank (size 1);</li>
 *   <li>otherwise MPI when the process was started by an MPI launcher (Open MPI's mpirun sets
 *       {@code OMPI_COMM_WORLD_SIZE}; PMIx launchers set {@code PMIX_RANK}), else a single in-JVM rank.</li>
 * </ol>
 * The choice and its reason go to standard error as one line ({@link #describe}).
 */
public final class Communicators {
    private Communicators() {}

    /** The selected world communicator; see the class comment for the rules. */
    public static Communicator fromEnvironment(Duration timeout) {
        String choice = choice();
        System.err.println("corvus: communicator " + describe());
        if (choice.equals("mpi")) return MpiCommunicator.world(timeout);
        List<Communicator> single = InJvmCluster.create(1, timeout);
        return single.get(0);
    }

    /** "mpi" or "local", by the rules above. */
    static String choice() {
        String prop = System.getProperty("corvus.comm");
        if (prop != null) {
            String p = prop.trim().toLowerCase(Locale.ROOT);
            if (p.equals("mpi") || p.equals("local")) return p;
            throw new IllegalArgumentException("-Dcorvus.comm=" + prop + ": expected mpi or local");
        }
        return launchedByMpi() ? "mpi" : "local";
    }

    /** Whether an MPI launcher started this process. */
    public static boolean launchedByMpi() {
        return System.getenv("OMPI_COMM_WORLD_SIZE") != null || System.getenv("PMIX_RANK") != null;
    }

    /** The choice and why, e.g. "mpi (started by mpirun: OMPI_COMM_WORLD_SIZE=4)". */
    public static String describe() {
        String prop = System.getProperty("corvus.comm");
        String choice = choice();
        if (prop != null) return choice + " (-Dcorvus.comm=" + prop + ")";
        if (choice.equals("mpi")) return "mpi (started by an MPI launcher: OMPI_COMM_WORLD_SIZE=" + System.getenv("OMPI_COMM_WORLD_SIZE") + ")";
        return "local (single in-JVM rank; no MPI launcher detected and no -Dcorvus.comm)";
    }
}
