package dev.corvus.tensor;

/**
 * The optional operations of {@link Backend}: callers ask {@link Backend#has} instead of calling
 * and catching UnsupportedOperationException. The operations themselves are always callable;
 * without the capability they either refuse ({@link #FUSED_ATTENTION}, {@link #DEVICE_MEMORY})
 * or fall back to a synchronous host equivalent ({@link #ASYNC_TRANSFER}, {@link #PINNED_MEMORY}).
 */
public enum Capability {
    /** {@link Backend#attention} runs a fused attention kernel on the backend's device. */
    FUSED_ATTENTION,
    /** Tensors live in device memory: {@link Backend#allocate} returns them and {@link Backend#transfer} moves them. */
    DEVICE_MEMORY,
    /** {@link Backend#transferAsync} returns before the copy finished, and copies on {@link CommandQueue#COPY} overlap compute. */
    ASYNC_TRANSFER,
    /** {@link Backend#allocatePinned} returns page-locked host memory the device reads and writes directly. */
    PINNED_MEMORY
}
