package dev.corvus.chunking;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.Shapes;
import dev.corvus.tensor.op.Layout;
import dev.corvus.tensor.op.OpDef;
import dev.corvus.tensor.op.Operand;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * One value of a traced graph, in SSA form: the op definition that makes it with its attribute
 * record, its operands, and its shape, dtype and (simulated) layout. Nodes are immutable but for
 * their user list, which the graph fills in.
 */
public final class Node implements Operand {
    private final int id;
    private final OpDef<?> op;
    private final Record attrs;
    private final String label;
    private final List<Node> inputs;
    private final DType dtype;
    private final Layout layout;
    final List<Node> users = new ArrayList<>();

    Node(int id, OpDef<?> op, Record attrs, String label, List<Node> inputs, DType dtype, Layout layout) {
        this.id = id;
        this.op = op;
        this.attrs = attrs;
        this.label = label;
        this.inputs = List.copyOf(inputs);
        this.dtype = dtype;
        this.layout = layout;
    }

    public int id() {
        return id;
    }

    /** The definition of the op that makes this value. */
    public OpDef<?> op() {
        return op;
    }

    /** The op's attribute record (its type is the op's {@link OpDef#attrsType()}). */
    public Record attrs() {
        return attrs;
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

    @Override
    public int[] shape() {
        return layout.shape().clone();
    }

    @Override
    public long[] strides() {
        return layout.strides().clone();
    }

    @Override
    public int size(int dim) {
        return layout.shape()[Shapes.dim("size", dim, layout.rank())];
    }

    @Override
    public int rank() {
        return layout.rank();
    }

    @Override
    public DType dtype() {
        return dtype;
    }

    @Override
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

    /** Sources hold no computation: inputs and parameters. */
    public boolean isSource() {
        return op == Sources.INPUT || op == Sources.PARAM;
    }

    /** A computing node: not an input or parameter. */
    public boolean isCompute() {
        return !isSource();
    }

    boolean isParam() {
        return op == Sources.PARAM;
    }

    boolean isCustom() {
        return op == Sources.CUSTOM;
    }

    /** "%12 = linear(%3, wq) [4096, 512]" style, for explain() and error messages. */
    public String describe() {
        StringBuilder sb = new StringBuilder("%").append(id).append(" = ");
        if (isSource()) return sb.append(op.apiName()).append(' ').append(label).append(' ').append(Shapes.str(shape())).toString();
        sb.append(label).append('(');
        for (int i = 0; i < inputs.size(); i++) {
            if (i > 0) sb.append(", ");
            Node in = inputs.get(i);
            sb.append(in.isParam() ? in.label : "%" + in.id);
        }
        return sb.append(") ").append(Shapes.str(shape())).toString();
    }

    @Override
    public String toString() {
        return describe();
    }
}
