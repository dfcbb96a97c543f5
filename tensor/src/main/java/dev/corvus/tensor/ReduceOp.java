package dev.corvus.tensor;

/** Reductions along one dimension. */
public enum ReduceOp {
    SUM, MEAN, MAX;

    private final String label = name().toLowerCase(java.util.Locale.ROOT);

    /** The lower-case name ops and errors use, e.g. "sum". */
    public String label() {
        return label;
    }
}
