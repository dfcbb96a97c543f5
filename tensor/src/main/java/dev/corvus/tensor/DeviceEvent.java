package dev.corvus.tensor;

/**
 * The completion of one command a backend enqueued without waiting for it (an asynchronous
 * transfer, a marker): {@link #await()} blocks the calling thread until it finished, {@link
 * #isDone()} asks without blocking, and {@link Backend#waitFor} orders a later command on a
 * {@link CommandQueue} after it without blocking anyone. Close it when done: on an accelerator
 * it is a native object. CPU backends run every command at once and hand back {@link #DONE}.
 */
public interface DeviceEvent extends AutoCloseable {
    /** An event that has already happened: what CPU backends return for work they did synchronously. */
    DeviceEvent DONE = new DeviceEvent() {
        @Override
        public void await() {}

        @Override
        public boolean isDone() {
            return true;
        }

        @Override
        public void close() {}

        @Override
        public String toString() {
            return "DeviceEvent.DONE";
        }
    };

    /** Blocks until the command finished; a command that failed on the device throws here. */
    void await();

    /** Whether the command has finished, without blocking. */
    boolean isDone();

    /** Releases the event; the command it stands for is not affected. Closing twice is harmless. */
    @Override
    void close();

    /** Blocks until every event finished. */
    static void awaitAll(DeviceEvent... events) {
        for (DeviceEvent e : events) e.await();
    }
}
