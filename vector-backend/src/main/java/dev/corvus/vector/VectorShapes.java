package dev.corvus.vector;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
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
    /** Same lane count as F, for 16-bit inputs (F16/BF16) widened to floats. */
    static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(FL * 16));
    static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
    /** Same lane count as F, for int8 (Q8_0) inputs widened to floats. */
    static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(FL * 8));

    static int preferredBitSize() {
        return F.vectorBitSize();
    }

    static String describe() {
        return F.vectorBitSize() + "-bit " + F + " (" + FL + " float lanes)";
    }
}
