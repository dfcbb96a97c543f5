package dev.corvus.dit;

import dev.corvus.dit.VideoDiT.Scheme;
import dev.corvus.parallel.CommVolume;
import dev.corvus.parallel.CommVolume.VideoProblem;

/**
 * Bytes one rank sends for a {@link VideoDiT} forward and training step under each scheme,
 * composed from {@link CommVolume}'s formulas (F32, padded shards): what the tests and
 * {@code corvus dit} compare the measured counters with.
 *
 * <ul>
 *   <li>Forward: per spatial block DSP's 2 switches, Ulysses' 4 all-to-alls or ring's P-1
 *       key/value hops; one all-gather of the final layer's patch values. Nothing else: the
 *       conditioning is computed from replicated inputs on every rank.
 *   <li>Backward: each switch's adjoint is a switch of the same size (DSP, Ulysses); ring's
 *       backward sends the keys and values P-1 hops and their gradients P hops; the gather's adjoint
 *       is local. Then one all-reduce of every parameter gradient.
 * </ul>
 */
public final class DitVolume {
    private DitVolume() {}

    /** The token activation [B, T', S, C] over p ranks. */
    static VideoProblem tokens(DitConfig cfg, int batch, int p) {
        return new VideoProblem(batch, cfg.tokenFrames(), cfg.tokenPatches(), cfg.hidden(), p);
    }

    /** Bytes of one spatial attention's forward. */
    static long spatialForward(DitConfig cfg, Scheme scheme, int batch, int p) {
        VideoProblem x = tokens(cfg, batch, p);
        return switch (scheme) {
            case DSP -> CommVolume.dspStPair(x);
            case ULYSSES -> CommVolume.ulyssesSpatialStPair(x);
            case RING -> CommVolume.ringSpatialStPair(x);
        };
    }

    /** Bytes of one spatial attention's backward. */
    static long spatialBackward(DitConfig cfg, Scheme scheme, int batch, int p) {
        VideoProblem x = tokens(cfg, batch, p);
        if (scheme != Scheme.RING) return spatialForward(cfg, scheme, batch, p);
        long kv = (long) batch * cfg.tokenFrames() * (x.padded(cfg.tokenPatches()) / p) * cfg.hidden() * 4;
        return CommVolume.ringSpatialStPair(x) + (p == 1 ? 0 : 2L * p * kv);
    }

    /** Bytes one rank sends in {@link VideoDiT#forward(dev.corvus.comm.Communicator, Scheme, VideoDiT.Weights, dev.corvus.tensor.Tensor, float[], int[], dev.corvus.tensor.Tensor)}. */
    public static long forward(DitConfig cfg, Scheme scheme, int batch, int p) {
        long gather = CommVolume.dspGather(new VideoProblem(batch, cfg.tokenFrames(), cfg.tokenPatches(), cfg.patchValues(), p));
        return cfg.spatialBlocks() * spatialForward(cfg, scheme, batch, p) + gather;
    }

    /** Bytes one rank sends in {@link DitTraining#step(dev.corvus.comm.Communicator, Scheme, VideoDiT.Weights, DitTraining.Batch)} of a model with {@code parameters} values. */
    public static long trainingStep(DitConfig cfg, Scheme scheme, int batch, int p, long parameters) {
        return forward(cfg, scheme, batch, p) + cfg.spatialBlocks() * spatialBackward(cfg, scheme, batch, p)
                + CommVolume.dspGradientAllReduce(parameters, p);
    }
}
