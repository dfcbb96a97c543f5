package dev.corvus.tensor;

/** Element-wise binary operations; {@link #apply} is the scalar definition every backend must match. */
public enum BinaryOp {
    ADD, SUB, MUL, DIV;

    private final String label = name().toLowerCase(java.util.Locale.ROOT);

    /** The lower-case name ops and errors use, e.g. "add". */
    public String label() {
        return label;
    }

    public float apply(float a, float b) {
        return switch (this) {
            case ADD -> a + b;
            case SUB -> a - b;
            case MUL -> a * b;
            case DIV -> a / b;
        };
    }
}
