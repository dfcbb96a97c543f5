package dev.corvus.engine;

/** {@link Engine#submit} refused a request: the queue holds its limit already (HTTP 429). */
public final class QueueFullException extends RuntimeException {
    public QueueFullException(String message) {
        super(message);
    }
}
