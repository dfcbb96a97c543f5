package dev.corvus.tensor;

/**
 * Memory that lives on an accelerator (an OpenCL buffer, say), owned by the backend that made it.
 * A {@link Storage} holds either host memory or one of these; the {@link MemoryScope} that owns
 * the storage releases it when the scope closes.
 */
public interface DeviceMemory {
    long byteSize();

    /** Frees the memory; called once, by the owning scope. */
    void release();
}
