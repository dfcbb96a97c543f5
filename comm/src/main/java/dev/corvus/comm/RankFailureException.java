package dev.corvus.comm;

/**
 * A rank of the cluster failed (its body threw, or it aborted), so this communication cannot
 * complete. {@link #rank()} is the failed rank's number in the whole cluster (the root group);
 * the message reads {@code "rank 2 failed: <its cause's message>"}.
 */
public class RankFailureException extends CommException {
    private final int rank;

    public RankFailureException(int rank, String message, Throwable cause) {
        super(message, cause);
        this.rank = rank;
    }

    /** The failed rank, numbered in the root group. */
    public int rank() {
        return rank;
    }
}
