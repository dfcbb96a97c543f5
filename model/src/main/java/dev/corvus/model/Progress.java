package dev.corvus.model;

/**
 * Where long work (a model download, a GGUF write) reports how far it got, so a front end can
 * draw a progress bar without the library depending on one. Calls come from the working thread;
 * every phase started is ended, also when the work fails.
 */
public interface Progress {
    /** A silent sink. */
    Progress NONE = new Progress() {
        @Override
        public void start(String phase, long total) {}

        @Override
        public void advance(long done) {}

        @Override
        public void end() {}
    };

    /** A new phase begins; {@code total} units (bytes, say), or -1 when unknown (then only time passes). */
    void start(String phase, long total);

    /** {@code done} units of the current phase are complete (monotonic within a phase). */
    void advance(long done);

    /** The current phase is over (finished or abandoned). */
    void end();
}
