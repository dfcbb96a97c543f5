package dev.corvus.tensor;

/**
 * Where a tensor's storage lives. {@code CPU} is host memory; accelerator backends add their own
 * kinds (for example {@code opencl:0}).
 */
public record Device(String kind, int index) {
    public static final Device CPU = new Device("cpu", 0);

    public Device {
        if (kind == null || kind.isBlank()) throw new IllegalArgumentException("device kind is empty");
        if (index < 0) throw new IllegalArgumentException("device index " + index + " is negative");
    }

    @Override
    public String toString() {
        return this.equals(CPU) ? "cpu" : kind + ":" + index;
    }
}
