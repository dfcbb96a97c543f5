package dev.corvus.train;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * One trainable tensor: its F32 master value and a gradient of the same shape, both contiguous
 * and living in the scope they were made in. Whether weight decay applies is decided once, when
 * the parameter is made (matrices yes, norms and biases no, by default).
 */
public final class Parameter {
    private final String name;
    private final Tensor value;
    private final Tensor grad;
    private final boolean decay;
    private volatile boolean trainable = true;

    private Parameter(String name, Tensor value, Tensor grad, boolean decay) {
        this.name = name;
        this.value = value;
        this.grad = grad;
        this.decay = decay;
    }

    /**
     * A parameter whose master value is {@code initial} converted to F32 (quantised and 16-bit
     * tensors are decoded), with a zero gradient, both in {@code scope}.
     */
    public static Parameter of(String name, Tensor initial, boolean decay, MemoryScope scope) {
        Objects.requireNonNull(name, "name");
        Tensor value = Tensor.zeros(scope, DType.F32, initial.shape());
        dev.corvus.tensor.Ops.copyInto(initial, value);
        return new Parameter(name, value, Tensor.zeros(scope, DType.F32, initial.shape()), decay);
    }

    /** Weight decay by default: on matrices and embeddings (rank 2 and up), not on norms and biases (rank 1). */
    public static boolean decayByDefault(Tensor t) {
        return t.rank() >= 2;
    }

    public String name() {
        return name;
    }

    /** The F32 master value (contiguous). */
    public Tensor value() {
        return value;
    }

    /** The gradient, same shape as the value (contiguous F32). */
    public Tensor grad() {
        return grad;
    }

    /** Whether AdamW's weight decay applies to this parameter. */
    public boolean decay() {
        return decay;
    }

    /** Whether the optimiser updates this parameter (true unless {@link #freeze()} was called). */
    public boolean trainable() {
        return trainable;
    }

    /**
     * Keeps this parameter as it is: the optimiser skips it (no update, no weight decay), while
     * its gradient, if anything writes one, still counts in the global norm. For fine-tuning a
     * part of a model.
     */
    public Parameter freeze() {
        trainable = false;
        return this;
    }

    public long numel() {
        return value.numel();
    }

    public int[] shape() {
        return value.shape();
    }

    /** Sets the gradient to zero. */
    public void zeroGrad() {
        gradMemory().fill((byte) 0);
    }

    MemorySegment valueMemory() {
        return UpdateKernels.memory(value);
    }

    MemorySegment gradMemory() {
        return UpdateKernels.memory(grad);
    }

    @Override
    public String toString() {
        return "Parameter[" + name + " " + java.util.Arrays.toString(shape()) + (decay ? ", decay" : "") + (trainable ? "" : ", frozen") + "]";
    }
}
