package dev.corvus.comm;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.Shapes;
import java.util.Arrays;
import java.util.function.IntFunction;

/**
 * What one rank passed to a collective: the collective, the input's dtype and shape, and the
 * resolved dims. Every rank of a group must pass equal signatures (out shapes follow from them and
 * the group size, and are checked locally), so the communicators compare them before any data
 * moves: {@link InJvmCommunicator} sends its signature with its messages, {@link MpiCommunicator}
 * exchanges {@link #encode encoded} ones in an all-gather of {@link #INTS} ints first. Byte counts
 * alone are not enough: an allReduce of [2, 3] against [3, 2], or an allGather along different
 * dims, moves equal bytes into different places.
 *
 * <p>An {@link #refused} signature stands for a rank whose own arguments failed validation, so
 * its peers fail at once instead of waiting for it.
 */
record Signature(Kind kind, DType dtype, int[] shape, int dimA, int dimB) {
    /** The collectives, with the names their messages use (codes on the wire are the ordinals). */
    enum Kind {
        ALL_GATHER("allGather"), REDUCE_SCATTER("reduceScatter"), ALL_TO_ALL("allToAll"), ALL_REDUCE("allReduce"), BARRIER("barrier");

        final String op;

        Kind(String op) {
            this.op = op;
        }
    }

    /** Dims encoded exactly; longer shapes fold the rest into a hash word (a mismatch there is still caught). */
    static final int MAX_DIMS = 8;
    /** Ints of one encoded signature: magic, kind, refused flag, dtype, dimA, dimB, rank, MAX_DIMS sizes, hash of the rest. */
    static final int INTS = 7 + MAX_DIMS + 1;
    /** Marks a Corvus header, so a peer that is in some other MPI collective of the same size is not misread. */
    private static final int MAGIC = 0x43565331; // "CVS1"
    private static final int REFUSED = -2;

    static Signature allGather(DType dtype, int[] local, int dim) {
        return new Signature(Kind.ALL_GATHER, dtype, local, dim, -1);
    }

    static Signature reduceScatter(DType dtype, int[] in, int dim) {
        return new Signature(Kind.REDUCE_SCATTER, dtype, in, dim, -1);
    }

    static Signature allToAll(DType dtype, int[] in, int scatterDim, int gatherDim) {
        return new Signature(Kind.ALL_TO_ALL, dtype, in, scatterDim, gatherDim);
    }

    static Signature allReduce(DType dtype, int[] data) {
        return new Signature(Kind.ALL_REDUCE, dtype, data, -1, -1);
    }

    static Signature barrier() {
        return new Signature(Kind.BARRIER, null, null, -1, -1);
    }

    /** A rank whose arguments to {@code kind} failed its own validation. */
    static Signature refused(Kind kind) {
        return new Signature(kind, null, null, REFUSED, REFUSED);
    }

    boolean isRefused() {
        return dimA == REFUSED;
    }

    /** What the rank passed, e.g. "local F32 [2, 3] along dim 0"; used in mismatch messages. */
    String describe() {
        if (isRefused()) return "arguments it refused itself";
        String s = shape == null ? "" : Shapes.str(shape).replace("-1", "?"); // ? = a dim beyond MAX_DIMS of a decoded header
        return switch (kind) {
            case ALL_GATHER -> "local " + dtype + " " + s + " along dim " + dimA;
            case REDUCE_SCATTER -> "in " + dtype + " " + s + " along dim " + dimA;
            case ALL_TO_ALL -> "in " + dtype + " " + s + " scattered along dim " + dimA + " and gathered along dim " + dimB;
            case ALL_REDUCE -> "data " + dtype + " " + s;
            case BARRIER -> "no tensor";
        };
    }

    /** This signature as {@link #INTS} ints, written to {@code out} from {@code at}. */
    void encode(int[] out, int at) {
        Arrays.fill(out, at, at + INTS, 0);
        out[at] = MAGIC;
        out[at + 1] = kind.ordinal();
        out[at + 2] = isRefused() ? 1 : 0;
        out[at + 3] = dtype == null ? -1 : dtype.ordinal();
        out[at + 4] = dimA;
        out[at + 5] = dimB;
        out[at + 6] = shape == null ? -1 : shape.length;
        if (shape == null) return;
        int hash = 17;
        for (int i = 0; i < shape.length; i++) {
            if (i < MAX_DIMS) out[at + 7 + i] = shape[i];
            else hash = 31 * hash + shape[i];
        }
        out[at + 7 + MAX_DIMS] = shape.length > MAX_DIMS ? hash : 0;
    }

    /**
     * The signature encoded at {@code at}, for messages, or null if those ints are not a Corvus
     * header. Dims beyond {@link #MAX_DIMS} come back as -1 (only their hash travels); compare
     * the encoded ints, not decoded signatures, to decide agreement.
     */
    static Signature decode(int[] in, int at) {
        if (in[at] != MAGIC) return null;
        int k = in[at + 1];
        if (k < 0 || k >= Kind.values().length) return null;
        Kind kind = Kind.values()[k];
        if (in[at + 2] != 0) return refused(kind);
        int dt = in[at + 3], rank = in[at + 6];
        DType dtype = dt >= 0 && dt < DType.values().length ? DType.values()[dt] : null;
        if (rank < 0) return new Signature(kind, dtype, null, in[at + 4], in[at + 5]);
        int[] shape = new int[rank];
        Arrays.fill(shape, -1);
        System.arraycopy(in, at + 7, shape, 0, Math.min(rank, MAX_DIMS));
        return new Signature(kind, dtype, shape, in[at + 4], in[at + 5]);
    }

    /**
     * Null when every rank's encoded signature ({@link #INTS} ints per rank, in rank order, in
     * {@code all}) equals rank 0's; else the error, which names rank 0's and the first differing
     * rank's arguments. Every rank sees the same headers, so every rank reports the same thing.
     */
    static String disagreement(String op, String group, int[] all, int size, IntFunction<String> rankName) {
        Signature[] s = new Signature[size];
        for (int j = 0; j < size; j++) {
            s[j] = decode(all, j * INTS);
            if (s[j] == null) {
                return op + " in " + group + ": " + rankName.apply(j) + " sent something that is not a Corvus collective header"
                        + " (is it in an MPI collective of its own?)";
            }
        }
        for (int j = 0; j < size; j++) {
            if (s[j].isRefused()) {
                return op + " in " + group + ": " + rankName.apply(j) + " refused its own arguments to " + s[j].kind.op
                        + " (its exception says why); no data was moved";
            }
        }
        for (int j = 1; j < size; j++) {
            if (s[j].kind != s[0].kind) {
                return "collective mismatch in " + group + ": " + rankName.apply(0) + " called " + s[0].kind.op + " but "
                        + rankName.apply(j) + " called " + s[j].kind.op + "; every rank must make the same collective calls in the same order";
            }
        }
        for (int j = 1; j < size; j++) {
            if (!Arrays.equals(all, 0, INTS, all, j * INTS, (j + 1) * INTS)) {
                return op + " in " + group + ": the ranks disagree: " + rankName.apply(0) + " passed " + s[0].describe() + " but "
                        + rankName.apply(j) + " passed " + s[j].describe() + "; every rank must pass the same dtype, shapes and dims"
                        + " (no data was moved)";
            }
        }
        return null;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Signature s && kind == s.kind && dtype == s.dtype && dimA == s.dimA && dimB == s.dimB && Arrays.equals(shape, s.shape);
    }

    @Override
    public int hashCode() {
        return (kind.ordinal() * 31 + (dtype == null ? -1 : dtype.ordinal())) * 31 + Arrays.hashCode(shape) + 7 * dimA + 11 * dimB;
    }

    @Override
    public String toString() {
        return kind.op + "(" + describe() + ")";
    }
}
