package dev.corvus.tensor;

/**
 * Which of a backend's two in-order command queues an asynchronous command goes on. Commands on
 * one queue run in submission order; the two queues run side by side and are ordered against each
 * other only through {@link DeviceEvent}s ({@link Backend#waitFor}, the wait list of
 * {@link Backend#transferAsync}). CPU backends have no queues: they run everything at once, in
 * call order.
 */
public enum CommandQueue {
    /** The queue every op runs on: a transfer here sees every op enqueued before it. */
    COMPUTE,
    /** A second queue for host-device copies that overlap the ops on {@link #COMPUTE}. */
    COPY
}
