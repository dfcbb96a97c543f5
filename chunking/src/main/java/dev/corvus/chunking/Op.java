package dev.corvus.chunking;

/**
 * The op kinds a traced graph holds: the tensor API's own ops, named by the method each runs, so
 * the graph speaks the same vocabulary as eager code. Every kind has a dimension rule in
 * {@link DimRules} (the Java compiler checks the switch is exhaustive), except {@link #CUSTOM},
 * whose rule the compiler refuses to guess.
 */
public enum Op {
    /** A graph input, bound when the program runs. */
    INPUT("input", false),
    /** A tensor captured at trace time (a weight); never counted as activation memory. */
    PARAM("param", false),
    LINEAR("Ops.linear", false),
    MATMUL("Ops.matmul", false),
    BINARY("Ops.binary", false),
    SCALE("Ops.scale", false),
    UNARY("Ops.unary", false),
    SOFTMAX("Ops.softmax", false),
    CAUSAL_SOFTMAX("Ops.causalSoftmax", false),
    RMSNORM("Ops.rmsnorm", false),
    LAYERNORM("Ops.layernorm", false),
    ROPE("Ops.rope", false),
    REDUCE("Ops.reduce", false),
    CONCAT("Ops.concat", false),
    ATTENTION("FlashAttention.forward", false),
    RESHAPE("Tensor.reshape", true),
    PERMUTE("Tensor.permute", true),
    CONTIGUOUS("Tensor.contiguous", true),
    /** A user function traced as a black box: no dimension rule, so the compiler stops at it. */
    CUSTOM("custom", false);

    private final String apiName;
    private final boolean mayView;

    Op(String apiName, boolean mayView) {
        this.apiName = apiName;
        this.mayView = mayView;
    }

    /** The tensor API method this op runs, e.g. {@code Ops.linear}. */
    public String apiName() {
        return apiName;
    }

    /** True for ops that return a view of their input when the layout allows (no new memory). */
    public boolean mayView() {
        return mayView;
    }

    /** Sources hold no computation: inputs and parameters. */
    public boolean isSource() {
        return this == INPUT || this == PARAM;
    }
}
