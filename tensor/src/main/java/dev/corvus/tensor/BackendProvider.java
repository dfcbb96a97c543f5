package dev.corvus.tensor;

import java.util.Optional;

/**
 * How a backend module makes itself known (ServiceLoader,
 * {@code META-INF/services/dev.corvus.tensor.BackendProvider}). {@link Backends} asks each
 * provider whether it can run here before it touches any of the backend's classes.
 */
public interface BackendProvider {
    /** Name used in logs and by {@code -Dcorvus.backend=NAME}. */
    String name();

    /** Higher wins among the CPU backends that are available. The scalar backend has 0. */
    int priority();

    /** Empty when the backend can run in this JVM; otherwise why not, in words a user can act on. */
    Optional<String> unavailableReason();

    /** Creates the backend; called only when {@link #unavailableReason()} is empty. */
    Backend create();
}
