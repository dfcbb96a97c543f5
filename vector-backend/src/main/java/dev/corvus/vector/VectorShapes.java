package dev.corvus.vector;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The vector species every kernel uses, in one place. Loaded only after
 * {@link VectorBackendProvider} checked that the incubator module is readable.
 */
final class VectorShapes {
    private VectorShapes() {}

    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** Lanes of F. */
    static final int FL = F.length();
    /** Same shape (so the same lane count) as F, for float bits handled as ints. */
    static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    /** Same lane count as F, for 16-bit inputs (F16/BF16) widened to floats. */
    static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(FL * 16));
    /**
     * int8 (Q8_0) values: FL lanes, or 8 where FL * 8 bits is narrower than the smallest vector
     * shape (64 bits), as on 128-bit NEON. Kernels widen it in {@link #B_PARTS} parts of FL lanes.
     */
    static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(Math.max(64, FL * 8)));
    /** Lanes of B. */
    static final int BL = B.length();
    /** Float vectors one B vector widens into. */
    static final int B_PARTS = BL / FL;

    static int preferredBitSize() {
        return F.vectorBitSize();
    }

    static String describe() {
        return F.vectorBitSize() + "-bit " + F + " (" + FL + " float lanes)";
    }
}
