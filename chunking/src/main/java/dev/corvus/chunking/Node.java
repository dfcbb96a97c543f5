package dev.corvus.chunking;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.Shapes;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * One value of a traced graph, in SSA form: the op that makes it, its operands, its attributes,
 * and its shape, dtype and (simulated) layout. Nodes are immutable but for their user list, which
 * the graph fills in.
 */
public final class Node {
    private final int id;
    private final Op op;
    private final String label;
    private final List<Node> inputs;
    private final int[] ints;
    private final double[] reals;
    private final Object attr;
    private final DType dtype;
    private final Layout layout;
    final List<Node> users = new ArrayList<>();

    Node(int id, Op op, String label, List<Node> inputs, int[] ints, double[] reals, Object attr, DType dtype, Layout layout) {
        this.id = id;
        this.op = op;
        this.label = label;
        this.inputs = List.copyOf(inputs);
        this.ints = ints;
        this.reals = reals;
        this.attr = attr;
        this.dtype = dtype;
        this.layout = layout;
    }

    public int id() {
        return id;
    }

    public Op op() {
        return op;
    }

    /** The input or parameter name, or the op's own description. */
    public String label() {
        return label;
    }

    public List<Node> inputs() {
        return inputs;
    }

    public Node input(int i) {
        return inputs.get(i);
    }

    public List<Node> users() {
        return Collections.unmodifiableList(users);
    }

    public int[] shape() {
        return layout.shape().clone();
    }

    public int size(int dim) {
        return layout.shape()[dim];
    }

    public int rank() {
        return layout.rank();
    }

    public DType dtype() {
        return dtype;
    }

    public long numel() {
        return layout.numel();
    }

    /** Bytes of a full-size value of this node. */
    public long bytes() {
        return dtype.byteSize(numel());
    }

    Layout layout() {
        return layout;
    }

    int intAttr(int i) {
        return ints[i];
    }

    int[] ints() {
        return ints;
    }

    double realAttr(int i) {
        return reals[i];
    }

    Object attr() {
        return attr;
    }

    /** A computing node: not an input or parameter. */
    public boolean isCompute() {
        return !op.isSource();
    }

    /** "%12 = Ops.linear(%3, wq) [4096, 512]" style, for explain() and error messages. */
    public String describe() {
        StringBuilder sb = new StringBuilder("%").append(id).append(" = ");
        if (op.isSource()) return sb.append(op.apiName()).append(' ').append(label).append(' ').append(Shapes.str(shape())).toString();
        sb.append(label).append('(');
        for (int i = 0; i < inputs.size(); i++) {
            if (i > 0) sb.append(", ");
            Node in = inputs.get(i);
            sb.append(in.op == Op.PARAM ? in.label : "%" + in.id);
        }
        return sb.append(") ").append(Shapes.str(shape())).toString();
    }

    @Override
    public String toString() {
        return describe();
    }
}
