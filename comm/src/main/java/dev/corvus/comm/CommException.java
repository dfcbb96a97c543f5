package dev.corvus.comm;

/** A communication failed: a timeout, a peer that failed, or mismatched calls. */
public class CommException extends RuntimeException {
    public CommException(String message) {
        super(message);
    }

    public CommException(String message, Throwable cause) {
        super(message, cause);
    }
}
