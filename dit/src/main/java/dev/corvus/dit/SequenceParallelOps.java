package dev.corvus.dit;

import dev.corvus.attention.FlashAttention;
import dev.corvus.attention.Mask;
import dev.corvus.comm.Communicator;
import dev.corvus.parallel.RingAttention;
import dev.corvus.parallel.dsp.DspLayout;
import dev.corvus.parallel.dsp.DspSharding;
import dev.corvus.tensor.Backend;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.op.OpDef;
import dev.corvus.tensor.op.Operand;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The communication steps of the sequence-parallel DiT as ops, so a {@link dev.corvus.tensor.op.Tape}
 * recording on a rank's thread differentiates through them: each op's backward is the adjoint
 * collective, run by every rank in the same (reverse) order its forward ran.
 *
 * <ul>
 *   <li>{@link #dynamicSwitch}: DSP's all-to-all from one sharded dim to another; its adjoint is
 *       the inverse all-to-all (the switch back), which also drops the gradient of pad slots.
 *   <li>{@link #gather}: all-gather of the S shards into the replicated full tensor; its adjoint
 *       keeps this rank's slab of the (replicated) output gradient with zeros in the pad, so each
 *       token's gradient is counted once, on the rank that owns it.
 *   <li>{@link #ringAttention}: non-causal ring attention over a padded sequence shard; its
 *       backward passes the keys and values around the ring again with their gradients travelling
 *       alongside and coming home on a last hop (the {@link RingAttention#backward} schedule),
 *       with the pad keys cut out exactly as in the forward.
 * </ul>
 *
 * None of these ops is chunkable (each mixes its whole sharded dim across ranks).
 */
final class SequenceParallelOps {
    private SequenceParallelOps() {}

    /** This rank's local tensor resharded from {@code from}'s dim to {@code toDim}. */
    static Tensor dynamicSwitch(Communicator comm, Tensor local, DspLayout from, int toDim) {
        return SWITCH.run(new Switch(comm, from, toDim), local);
    }

    /** The full, unpadded tensor on every rank from this rank's shard. */
    static Tensor gather(Communicator comm, Tensor local, DspLayout layout) {
        return GATHER.run(new Gather(comm, layout), local);
    }

    /**
     * softmax(scale · q·kᵀ)·v with q, k, v [B, H, chunk, D] this rank's shard of a sequence of
     * {@code globalKeys} real tokens padded at the end to P · chunk.
     */
    static Tensor ringAttention(Communicator comm, Tensor q, Tensor k, Tensor v, int globalKeys, float scale) {
        return RING.run(new Ring(comm, globalKeys, scale, new Tensor[1]), q, k, v);
    }

    // ---------------------------------------------------------------- dynamic switch

    record Switch(Communicator comm, DspLayout from, int toDim) {}

    static final OpDef<Switch> SWITCH = new CollectiveDef<>("dspSwitch", "SequenceParallelOps.dynamicSwitch", Switch.class) {
        @Override
        public Output infer(Switch a, Operand... in) {
            requireShape(name(), in[0], a.from().localShape());
            return new Output(DType.F32, a.from().switchTo(a.toDim()).localShape());
        }

        @Override
        public Tensor run(Backend backend, Switch a, Tensor... in) {
            return DspSharding.dynamicSwitch(a.comm(), in[0], a.from(), a.toDim());
        }

        @Override
        public Backward<Switch> backward() {
            return (a, in, out, g) -> new Tensor[] {DspSharding.switchBackward(a.comm(), g, a.from(), a.toDim())};
        }
    };

    // ---------------------------------------------------------------- gather

    record Gather(Communicator comm, DspLayout layout) {}

    static final OpDef<Gather> GATHER = new CollectiveDef<>("dspGather", "SequenceParallelOps.gather", Gather.class) {
        @Override
        public Output infer(Gather a, Operand... in) {
            requireShape(name(), in[0], a.layout().localShape());
            return new Output(DType.F32, a.layout().globalSizes());
        }

        @Override
        public Tensor run(Backend backend, Gather a, Tensor... in) {
            return DspSharding.gather(a.comm(), in[0], a.layout());
        }

        @Override
        public Backward<Gather> backward() {
            return (a, in, out, g) -> new Tensor[] {DspSharding.gatherBackward(a.comm(), g, a.layout())};
        }
    };

    // ---------------------------------------------------------------- ring attention

    /**
     * @param lse the forward's log-sum-exp, kept for the backward (the op's output is only the
     *            attention, and recomputing the log-sum-exp would send the keys around once more)
     */
    record Ring(Communicator comm, int globalKeys, float scale, Tensor[] lse) {
        @Override
        public String toString() {
            return "Ring[globalKeys=" + globalKeys + ", scale=" + scale + "]";
        }
    }

    private static final int SEQ = 2, KEY_TAG = 800, VALUE_TAG = 810, KEY_GRAD_TAG = 820, VALUE_GRAD_TAG = 830;

    static final OpDef<Ring> RING = new CollectiveDef<>("ringAttention", "SequenceParallelOps.ringAttention", Ring.class) {
        @Override
        public Output infer(Ring a, Operand... in) {
            if (in.length != 3) throw new IllegalArgumentException(name() + ": " + in.length + " operands, expected q, k and v");
            for (int i = 1; i < 3; i++) {
                if (!Arrays.equals(in[i].shape(), in[0].shape())) {
                    throw new IllegalArgumentException(name() + ": " + (i == 1 ? "k" : "v") + " has shape " + Arrays.toString(in[i].shape())
                            + ", expected q's " + Arrays.toString(in[0].shape()));
                }
            }
            return new Output(DType.F32, in[0].shape());
        }

        @Override
        public Tensor run(Backend backend, Ring a, Tensor... in) {
            FlashAttention.Result r = RingAttention.forwardPadded(a.comm(), in[0], in[1], in[2], a.globalKeys(), a.scale());
            a.lse()[0] = r.lse();
            return r.out();
        }

        @Override
        public Backward<Ring> backward() {
            return (a, in, out, g) -> ringBackward(a, in[0], in[1], in[2], out, g);
        }
    };

    /**
     * dq, dk, dv of {@link RingAttention#forwardPadded}: at step s this rank holds the keys of rank
     * r - s, adds its queries' contribution to their gradients (real keys only), then passes keys,
     * values and their gradients on; after P steps every key's gradient is home.
     */
    private static Tensor[] ringBackward(Ring a, Tensor q, Tensor k, Tensor v, Tensor out, Tensor dOut) {
        Communicator comm = a.comm();
        int p = comm.size(), r = comm.rank(), next = (r + 1) % p, prev = (r + p - 1) % p, chunk = k.size(SEQ);
        Tensor lse = a.lse()[0];
        if (lse == null) throw new IllegalStateException("ringAttention backward: the forward's log-sum-exp was not kept");
        Tensor dO = Ops.convert(dOut, DType.F32), delta = FlashAttention.delta(dO, out);
        Tensor qf = Ops.convert(q, DType.F32), kc = Ops.convert(k, DType.F32), vc = Ops.convert(v, DType.F32);
        Tensor kNext = Tensor.zeros(DType.F32, kc.shape()), vNext = Tensor.zeros(DType.F32, vc.shape());
        Tensor dq = Tensor.zeros(DType.F32, q.shape());
        Tensor dk = Tensor.zeros(DType.F32, kc.shape()), dv = Tensor.zeros(DType.F32, vc.shape());
        Tensor dkNext = Tensor.zeros(DType.F32, kc.shape()), dvNext = Tensor.zeros(DType.F32, vc.shape());
        for (int step = 0; step < p; step++) {
            int valid = Math.clamp(a.globalKeys() - (long) ((r - step + p) % p) * chunk, 0, chunk);
            List<Communicator.Request> pending = new ArrayList<>();
            if (step < p - 1) {
                pending.add(comm.send(kc, next, KEY_TAG));
                pending.add(comm.receive(kNext, prev, KEY_TAG));
                pending.add(comm.send(vc, next, VALUE_TAG));
                pending.add(comm.receive(vNext, prev, VALUE_TAG));
            }
            if (valid > 0) {
                Tensor kv = kc.narrow(SEQ, 0, valid).contiguous(), vv = vc.narrow(SEQ, 0, valid).contiguous();
                Tensor dkPart = Tensor.zeros(DType.F32, kv.shape()), dvPart = Tensor.zeros(DType.F32, vv.shape());
                FlashAttention.backwardAccumulate(qf, kv, vv, dO, lse, delta, Mask.NONE, a.scale(), dq, dkPart, dvPart);
                addInto(dk.narrow(SEQ, 0, valid), dkPart);
                addInto(dv.narrow(SEQ, 0, valid), dvPart);
            }
            // these keys' gradients move on with them; after the last step they are home
            if (p > 1) {
                pending.add(comm.send(dk, next, KEY_GRAD_TAG));
                pending.add(comm.receive(dkNext, prev, KEY_GRAD_TAG));
                pending.add(comm.send(dv, next, VALUE_GRAD_TAG));
                pending.add(comm.receive(dvNext, prev, VALUE_GRAD_TAG));
            }
            pending.forEach(Communicator.Request::await);
            if (step < p - 1) {
                Tensor t = kc; kc = kNext; kNext = t;
                t = vc; vc = vNext; vNext = t;
            }
            if (p > 1) {
                dk = dkNext;
                dkNext = Tensor.zeros(DType.F32, kc.shape());
                dv = dvNext;
                dvNext = Tensor.zeros(DType.F32, vc.shape());
            }
        }
        return new Tensor[] {dq, dk, dv};
    }

    private static void addInto(Tensor target, Tensor part) {
        Ops.copyInto(Ops.add(target, part), target);
    }

    // ---------------------------------------------------------------- shared

    /** A collective op: not chunkable, F32 out. */
    private abstract static class CollectiveDef<A extends Record> extends OpDef<A> {
        CollectiveDef(String name, String apiName, Class<A> attrs) {
            super(name, apiName, attrs);
        }

        @Override
        public int[] flow(A attrs, Operand[] in, int[] outShape, int d) {
            return null;
        }
    }

    private static void requireShape(String op, Operand t, int[] expected) {
        if (!Arrays.equals(t.shape(), expected)) {
            throw new IllegalArgumentException(op + ": local tensor has shape " + Arrays.toString(t.shape()) + ", expected "
                    + Arrays.toString(expected));
        }
    }
}
