package dev.corvus.tensor.op;

import dev.corvus.tensor.Backends;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.OpSupport;
import dev.corvus.tensor.Shapes;
import dev.corvus.tensor.Storage;
import dev.corvus.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Reverse-mode differentiation over the op registry. While a tape records on a thread, every
 * {@link OpDef#run(Record, Tensor...)} there is kept as (op, attributes, inputs, output);
 * {@link #backward} walks the records in reverse, calls each op's {@link OpDef#backward() rule}
 * and sums the gradients that reach each tensor (a tensor used twice gets both).
 *
 * <pre>{@code
 * try (MemoryScope scope = MemoryScope.open("step"); Tape tape = Tape.record()) {
 *     Tensor loss = model(x, w1, w2);          // recorded
 *     float value = loss.item();               // read before backward: backward frees the activations
 *     Tensor[] g = tape.backward(loss, Tensor.ones(loss.shape()), w1, w2);   // in "step"
 * }
 * }</pre>
 *
 * <p><b>Views.</b> {@link Tensor#reshape}, {@link Tensor#permute}, {@link Tensor#transpose},
 * {@link Tensor#t}, {@link Tensor#narrow}, {@link Tensor#expand}, {@link Tensor#unsqueeze} and
 * {@link Tensor#squeeze} are methods, not ops, and are not recorded: a tensor the tape did not see
 * made is traced through its storage instead. When an op reads such a tensor, its gradient goes to
 * the most recently recorded contiguous tensor (or requested tensor) whose elements it lies in,
 * element by element through the view's strides, so a narrowed, transposed or broadcast view
 * differentiates as itself. {@link Tensor#contiguous} of a non-contiguous view copies through the
 * registered {@link Contiguous} op, so the copy is recorded too. Writes into existing memory
 * ({@link Ops#copyInto}) are not ops and are invisible to the tape: code under a tape must not
 * overwrite a tensor it has already read (a KV cache written and read in place is such a case).
 *
 * <p><b>Memory.</b> Opening a tape opens a {@link MemoryScope} ("tape activations") that is
 * current while the tape records, so everything the recorded forward allocates lives there, held
 * until {@link #backward}. Backward computes in a scope of its own, copies the requested gradients
 * into the scope that was current when the tape was opened, then closes both: activations and
 * intermediate gradients are freed together and the loss tensor with them. Scopes opened and
 * closed inside the recording must not hold tensors the backward still needs (it would report
 * them closed, naming the scope). {@link #close()} without a backward frees the activations.
 *
 * <p><b>Checkpointing.</b> {@link #checkpoint} keeps only a segment's output and re-runs the
 * segment in backward (under a tape of its own) instead of holding its activations.
 *
 * <p>One tape per thread; a tape is not reentrant (ops run by a rule during backward are not
 * recorded, and neither are the ops an op runs inside its own {@code run}).
 */
public final class Tape implements AutoCloseable {
    private static final ThreadLocal<Tape> RECORDING = new ThreadLocal<>();

    /** One recorded application: an op (segment null), or a checkpointed segment (op and attrs null). */
    private record Entry(OpDef<?> op, Record attrs, Tensor[] inputs, Tensor output, Segment segment) {}

    /** A checkpointed segment: its label for errors and the function {@link #checkpoint} re-runs in backward. */
    private record Segment(String label, Function<Tensor[], Tensor> body) {}

    private final List<Entry> entries = new ArrayList<>();
    /** Recorded outputs and their entry index. */
    private final Map<Tensor, Integer> producer = new IdentityHashMap<>();
    /** Contiguous recorded outputs by storage, oldest first: the bases a view's gradient can go to. */
    private final Map<Storage, List<Integer>> contiguousByStorage = new IdentityHashMap<>();
    private final MemoryScope outer;
    private final MemoryScope activations;
    private final Thread owner;
    private boolean inOp;
    private boolean finished;

    private Tape(MemoryScope outer) {
        this.outer = outer;
        this.owner = Thread.currentThread();
        this.activations = MemoryScope.open("tape activations");
    }

    /**
     * Starts recording on this thread. A scope must be open: the requested gradients are allocated
     * in it.
     */
    public static Tape record() {
        if (RECORDING.get() != null) throw new IllegalStateException("Tape.record: a tape is already recording on thread '" + Thread.currentThread().getName() + "'");
        Tape tape = new Tape(MemoryScope.require("Tape.record"));
        RECORDING.set(tape);
        return tape;
    }

    /** The tape recording on this thread, or null (also null while a recorded op runs). */
    static Tape recording() {
        Tape t = RECORDING.get();
        return t == null || t.inOp ? null : t;
    }

    /** True while a tape records on this thread. */
    public static boolean isRecording() {
        return RECORDING.get() != null;
    }

    /**
     * Runs {@code work} without recording (its allocations still go to the current scope): for
     * computing, on a recorded value, something the backward does not go through, such as a loss
     * whose gradient is computed by hand and given as the seed.
     */
    public <T> T unrecorded(java.util.function.Supplier<T> work) {
        checkOpen("unrecorded");
        boolean before = inOp;
        inOp = true;
        try {
            return work.get();
        } finally {
            inOp = before;
        }
    }

    /** Ops recorded so far. */
    public int size() {
        return entries.size();
    }

    <A extends Record> Tensor run(OpDef<A> op, A attrs, Tensor[] in) {
        return record(op, attrs, in, () -> op.run(OpSupport.backend(op.name(), in), attrs, in));
    }

    /** Runs {@code compute} (the op applied to {@code in}, allocating where its front end says) and keeps the application. */
    <A extends Record> Tensor record(OpDef<A> op, A attrs, Tensor[] in, java.util.function.Supplier<Tensor> compute) {
        Tensor out;
        inOp = true;
        try {
            out = compute.get();
        } finally {
            inOp = false;
        }
        if (in.length == 1 && out == in[0]) return out; // contiguous() of a contiguous value: nothing happened
        add(new Entry(op, attrs, in.clone(), out, null));
        return out;
    }

    private void add(Entry e) {
        int index = entries.size();
        entries.add(e);
        producer.put(e.output(), index);
        if (e.output().isContiguous() && e.output().dtype() == DType.F32) contiguousByStorage.computeIfAbsent(e.output().storage(), s -> new ArrayList<>()).add(index);
    }

    /**
     * {@code body(inputs)}, with activation checkpointing when a tape records on this thread: the
     * body runs unrecorded in a scope of its own, only its output is kept (copied into the tape's
     * activations), and the tape records the segment as one step whose backward runs the body
     * again under a tape of its own and differentiates that. The activations inside the segment
     * are then held for one segment at a time during backward instead of from the forward on,
     * for the price of a second forward of the segment.
     *
     * <p>{@code inputs} must name every tensor the body reads that needs a gradient (its input
     * activation and the weights it uses); a tensor the body captures instead gets no gradient
     * through the segment. The body must compute the same values when run again (the kernels are
     * deterministic), must not write into memory outside itself, and returns one F32 tensor.
     * Without a recording tape (or inside a recorded op) this is just {@code body.apply(inputs)}.
     */
    public static Tensor checkpoint(String label, Function<Tensor[], Tensor> body, Tensor... inputs) {
        Tape tape = recording();
        if (tape == null) return body.apply(inputs);
        Tensor kept;
        tape.inOp = true;
        try (MemoryScope segment = MemoryScope.open("checkpointed segment " + label)) {
            Tensor out = body.apply(inputs.clone());
            if (out.dtype() != DType.F32) throw new IllegalArgumentException("Tape.checkpoint: segment '" + label + "' returned " + out.dtype() + ", expected F32");
            kept = Backends.of(out.device()).allocate(tape.activations, DType.F32, out.shape());
            Ops.copyInto(out, kept);
        } finally {
            tape.inOp = false;
        }
        tape.add(new Entry(null, null, inputs.clone(), kept, new Segment(label, body)));
        return kept;
    }

    /** A segment's input gradients: its body run again under a tape of its own (this tape has stopped recording), then differentiated. */
    private static Tensor[] recompute(Entry e, Tensor g) {
        Tensor[] in = e.inputs();
        List<Tensor> wanted = new ArrayList<>();
        for (Tensor t : in) if (t.dtype() != DType.I32 && !t.dtype().isQuantized()) wanted.add(t);
        Tensor[] grads;
        try (Tape inner = record()) {
            Tensor out = e.segment().body().apply(in.clone());
            if (!Arrays.equals(out.shape(), g.shape())) {
                throw new IllegalStateException("Tape.backward: checkpointed segment '" + e.segment().label() + "' gave " + Shapes.str(out.shape())
                        + " when run again, " + Shapes.str(g.shape()) + " the first time");
            }
            grads = inner.backward(out, g, wanted.toArray(Tensor[]::new));
        }
        Tensor[] result = new Tensor[in.length];
        for (int i = 0, w = 0; i < in.length; i++) if (in[i].dtype() != DType.I32 && !in[i].dtype().isQuantized()) result[i] = grads[w++];
        return result;
    }

    /**
     * Gradients of {@code sum(loss ∘ seed)} with respect to each of {@code wrt}, in the scope that
     * was current when the tape was opened (zeros for a tensor the loss does not depend on). Stops
     * recording and frees the activations: a tape runs backward once.
     *
     * @param loss the recorded output to differentiate
     * @param seed the gradient of the final scalar with respect to {@code loss}: its shape
     * @param wrt  the tensors to return gradients for (parameters, typically made before the tape)
     */
    public Tensor[] backward(Tensor loss, Tensor seed, Tensor... wrt) {
        checkOpen("backward");
        if (!Arrays.equals(loss.shape(), seed.shape())) {
            throw new IllegalArgumentException("Tape.backward: seed gradient " + Shapes.str(seed.shape()) + " does not match the loss " + Shapes.str(loss.shape()));
        }
        for (int i = 0; i < wrt.length; i++) {
            if (wrt[i].dtype().isQuantized() || wrt[i].dtype() == DType.I32) {
                throw new IllegalArgumentException("Tape.backward: cannot differentiate with respect to argument " + i + " (" + wrt[i].dtype() + " "
                        + Shapes.str(wrt[i].shape()) + "): " + (wrt[i].dtype() == DType.I32 ? "I32 holds indices" : "quantised weights get no gradient; train an F32 copy"));
            }
        }
        RECORDING.remove();
        Map<Tensor, Integer> requested = new IdentityHashMap<>();
        for (int i = 0; i < wrt.length; i++) requested.putIfAbsent(wrt[i], i);
        Tensor[] result = new Tensor[wrt.length];
        try (MemoryScope work = MemoryScope.open("tape backward")) {
            Map<Tensor, Tensor> grads = new IdentityHashMap<>();
            grads.put(loss, OpSupport.f32("Tape.backward", seed));
            for (int i = entries.size() - 1; i >= 0; i--) {
                Entry e = entries.get(i);
                Tensor g = requested.containsKey(e.output()) ? grads.get(e.output()) : grads.remove(e.output());
                if (g == null) continue;
                Tensor[] inGrads = gradients(e, g);
                for (int j = 0; j < e.inputs().length; j++) {
                    if (j < inGrads.length && inGrads[j] != null) deliver(e, j, inGrads[j], i, requested, grads);
                }
            }
            for (int i = 0; i < wrt.length; i++) {
                Tensor g = grads.get(wrt[i]);
                result[i] = Backends.of(wrt[i].device()).allocate(outer, DType.F32, wrt[i].shape());
                if (g != null) Ops.copyInto(g, result[i]);
            }
        } finally {
            finish();
        }
        return result;
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static Tensor[] gradients(Entry e, Tensor g) {
        if (e.segment() != null) return recompute(e, g);
        OpDef op = e.op();
        OpDef.Backward rule = op.backward();
        if (rule == null) {
            if (!op.differentiable()) return new Tensor[0];
            throw new UnsupportedOperationException("Tape.backward: op '" + label(e) + "' (" + op.apiName() + ") has no backward rule");
        }
        return rule.gradients(e.attrs(), e.inputs(), e.output(), g);
    }

    /** Adds input j's gradient to the tensor it belongs to: itself, or the recorded tensor a view of it reads. */
    private void deliver(Entry e, int j, Tensor g, int consumer, Map<Tensor, Integer> requested, Map<Tensor, Tensor> grads) {
        Tensor t = e.inputs()[j];
        if (!Arrays.equals(g.shape(), t.shape())) {
            throw new IllegalStateException("Tape.backward: the rule of '" + label(e) + "' gave operand " + j + " a gradient of shape "
                    + Shapes.str(g.shape()) + ", but the operand is " + Shapes.str(t.shape()));
        }
        if (t.dtype() == DType.I32 || t.dtype().isQuantized()) return;
        if (requested.containsKey(t) || producer.containsKey(t)) {
            accumulate(grads, t, g);
            return;
        }
        Tensor base = baseOf(t, consumer, requested);
        if (base == null) return;
        // a reshaped view of all of base (view(), unsqueeze of a contiguous value) needs no scatter
        boolean sameElements = t.isContiguous() && t.offset() == base.offset() && t.numel() == base.numel();
        accumulate(grads, base, sameElements ? g.reshape(base.shape()) : scatter(t, g, base));
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static String label(Entry e) {
        if (e.segment() != null) return "checkpointed segment " + e.segment().label();
        return ((OpDef) e.op()).label(e.attrs());
    }

    private static void accumulate(Map<Tensor, Tensor> grads, Tensor t, Tensor g) {
        Tensor before = grads.get(t);
        grads.put(t, before == null ? g : Ops.add(before, g));
    }

    /**
     * The tensor whose gradient a view {@code t} feeds: the latest contiguous F32 output recorded
     * before {@code consumer}, else a requested contiguous tensor, whose elements contain all of
     * t's. Null for a tensor the tape cannot trace (a constant: no gradient).
     */
    private Tensor baseOf(Tensor t, int consumer, Map<Tensor, Integer> requested) {
        if (t.numel() == 0) return null;
        int[] shape = t.shape();
        long[] strides = t.strides();
        long lo = t.offset(), hi = t.offset();
        for (int d = 0; d < shape.length; d++) {
            long reach = (shape[d] - 1) * strides[d];
            if (reach < 0) lo += reach;
            else hi += reach;
        }
        List<Integer> candidates = contiguousByStorage.get(t.storage());
        if (candidates != null) {
            for (int c = candidates.size() - 1; c >= 0; c--) {
                int index = candidates.get(c);
                if (index >= consumer) continue;
                Tensor b = entries.get(index).output();
                if (b.offset() <= lo && hi < b.offset() + b.numel()) return b;
            }
        }
        for (Tensor w : requested.keySet()) {
            if (w.storage() == t.storage() && w.isContiguous() && w.offset() <= lo && hi < w.offset() + w.numel()) return w;
        }
        return null;
    }

    /** The gradient of contiguous {@code base} that view {@code t} with gradient g contributes: g added at t's elements. */
    private static Tensor scatter(Tensor t, Tensor g, Tensor base) {
        float[] values = g.toFloatArray();
        float[] acc = new float[Math.toIntExact(base.numel())];
        long origin = base.offset();
        for (int i = 0; i < values.length; i++) acc[(int) (t.elementIndex(i) - origin)] += values[i];
        return Tensor.of(acc, base.shape()).to(base.device());
    }

    private void checkOpen(String what) {
        if (finished) throw new IllegalStateException("Tape." + what + ": this tape has already run backward or been closed");
        if (Thread.currentThread() != owner) throw new IllegalStateException("Tape." + what + ": the tape belongs to thread '" + owner.getName() + "'");
    }

    private void finish() {
        finished = true;
        if (RECORDING.get() == this) RECORDING.remove();
        entries.clear();
        producer.clear();
        contiguousByStorage.clear();
        activations.close();
    }

    /** Stops recording and frees the activations (a no-op after {@link #backward}). */
    @Override
    public void close() {
        if (!finished) finish();
    }
}
