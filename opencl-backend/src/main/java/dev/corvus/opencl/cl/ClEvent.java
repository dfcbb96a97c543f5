package dev.corvus.opencl.cl;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.corvus.tensor.DeviceEvent;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * The completion of one enqueued command. Pass it in another command's wait list to order work
 * across queues; {@link #await()} blocks the host. Close it when done (it is a native object).
 * It is also the tensor library's {@link DeviceEvent}, which the OpenCL backend's asynchronous
 * transfers and markers return.
 */
public final class ClEvent extends ClObject implements DeviceEvent {
    ClEvent(MemorySegment handle) {
        super(handle, "event");
    }

    @Override
    MethodHandle releaser() {
        return Cl.H.clReleaseEvent;
    }

    /** Blocks until the command finished; a failed command is a ClException. */
    @Override
    public void await() {
        waitAll(this);
    }

    /** Blocks until every event finished. */
    public static void waitAll(ClEvent... events) {
        if (events.length == 0) return;
        try (Arena a = Arena.ofConfined()) {
            Cl.check("clWaitForEvents", Cl.call(Cl.H.clWaitForEvents, events.length, Cl.waitList(a, events)));
        }
    }

    /** CL_QUEUED, CL_SUBMITTED, CL_RUNNING, CL_COMPLETE, or a negative error code. */
    public int status() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            Cl.check("clGetEventInfo", Cl.call(Cl.H.clGetEventInfo, handle(), Cl.CL_EVENT_COMMAND_EXECUTION_STATUS, 4L, v, MemorySegment.NULL));
            return v.get(JAVA_INT, 0);
        }
    }

    public boolean isComplete() {
        return status() == Cl.CL_COMPLETE;
    }

    /** DeviceEvent: {@link #isComplete()}. */
    @Override
    public boolean isDone() {
        return isComplete();
    }

    /** Device time the command ran, in nanoseconds; the queue must have CL_QUEUE_PROFILING_ENABLE. */
    public long durationNanos() {
        return profile(Cl.CL_PROFILING_COMMAND_END) - profile(Cl.CL_PROFILING_COMMAND_START);
    }

    private long profile(int param) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_LONG);
            Cl.check("clGetEventProfilingInfo", Cl.call(Cl.H.clGetEventProfilingInfo, handle(), param, 8L, v, MemorySegment.NULL));
            return v.get(JAVA_LONG, 0);
        }
    }

    /** Reads the event handle an enqueue call wrote, or null when none was asked for. */
    static ClEvent from(MemorySegment out) {
        if (out == null || out.equals(MemorySegment.NULL)) return null;
        return new ClEvent(out.get(ADDRESS, 0));
    }
}
