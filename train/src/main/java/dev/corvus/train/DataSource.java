package dev.corvus.train;

/**
 * Where training batches come from, in an order fixed by a seed, with a position that a
 * checkpoint records so that a resumed run reads exactly the batches an uninterrupted one would.
 *
 * @param <B> a batch, e.g. a sequence of token ids
 */
public interface DataSource<B> {
    /** The next batch; moves the position on by one. */
    B next();

    /** Where {@link #next()} reads from now. */
    Position position();

    /** Moves to {@code position} (one returned by {@link #position()} of a source with the same data and seed). */
    void seek(Position position);

    /** The seed of the order. */
    long seed();

    /**
     * A place in the data: the pass over it and the batch within the pass.
     *
     * @param epoch passes completed
     * @param index batches read in this pass
     */
    record Position(long epoch, long index) {
        public Position {
            if (epoch < 0 || index < 0) throw new IllegalArgumentException("data position epoch " + epoch + ", index " + index + " must be >= 0");
        }
    }
}
