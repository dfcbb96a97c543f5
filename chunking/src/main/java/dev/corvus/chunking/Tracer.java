package dev.corvus.chunking;

import dev.corvus.attention.Attention;
import dev.corvus.attention.Mask;
import dev.corvus.tensor.BinaryOp;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.Device;
import dev.corvus.tensor.ReduceOp;
import dev.corvus.tensor.RopeStyle;
import dev.corvus.tensor.Shapes;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.UnaryOp;
import dev.corvus.tensor.op.Binary;
import dev.corvus.tensor.op.Concat;
import dev.corvus.tensor.op.Contiguous;
import dev.corvus.tensor.op.LayerNorm;
import dev.corvus.tensor.op.Layout;
import dev.corvus.tensor.op.Linear;
import dev.corvus.tensor.op.Matmul;
import dev.corvus.tensor.op.OpDef;
import dev.corvus.tensor.op.Permute;
import dev.corvus.tensor.op.Reduce;
import dev.corvus.tensor.op.Reshape;
import dev.corvus.tensor.op.RmsNorm;
import dev.corvus.tensor.op.Rope;
import dev.corvus.tensor.op.Scale;
import dev.corvus.tensor.op.Softmax;
import dev.corvus.tensor.op.Softplus;
import dev.corvus.tensor.op.Unary;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * Records a model as a graph instead of running it: each method mirrors the tensor API op of the
 * same name ({@code Ops.linear}, {@code Tensor.permute}, ...) and runs that op's own checks and
 * inference from the registry ({@link dev.corvus.tensor.op.OpDef#infer}), so a traced call fails
 * exactly where the eager one would; {@link #apply} traces any registered op.
 *
 * <pre>{@code
 * Tracer t = new Tracer();
 * Node x = t.input("x", 4096, 512);
 * Node y = t.silu(t.linear(x, t.param("w", w), null));
 * Graph g = t.build(y);
 * }</pre>
 */
public final class Tracer {
    private final List<Node> nodes = new ArrayList<>();
    private final List<Node> inputs = new ArrayList<>();

    private Node add(OpDef<?> op, Record attrs, String label, List<Node> in, DType dtype, Layout layout) {
        for (Node n : in) {
            if (n.id() >= nodes.size() || nodes.get(n.id()) != n) {
                throw new IllegalArgumentException(label + ": operand " + n.describe() + " belongs to another tracer");
            }
        }
        Node node = new Node(nodes.size(), op, attrs, label, in, dtype, layout);
        nodes.add(node);
        return node;
    }

    // ---------------------------------------------------------------- sources

    /** An F32 graph input. */
    public Node input(String name, int... shape) {
        return input(name, DType.F32, shape);
    }

    public Node input(String name, DType dtype, int... shape) {
        Shapes.checkValid(shape);
        for (Node in : inputs) {
            if (in.label().equals(name)) throw new IllegalArgumentException("input: name '" + name + "' is already taken by " + in.describe());
        }
        Node n = add(Sources.INPUT, new Sources.Input(name, dtype, shape.clone()), name, List.of(), dtype, Layout.contiguous(shape));
        inputs.add(n);
        return n;
    }

    /** A tensor captured now (a weight), used as is by every run. */
    public Node param(String name, Tensor value) {
        if (!value.device().equals(Device.CPU)) {
            throw new IllegalArgumentException("param: '" + name + "' is on " + value.device() + "; AutoChunk traces and runs on the CPU, so pass host weights");
        }
        return add(Sources.PARAM, new Sources.Param(name, value), name, List.of(), value.dtype(), Layout.of(value));
    }

    // ---------------------------------------------------------------- ops

    /** Traces any registered op: its own checks and inference decide the node's dtype, shape and layout. */
    public <A extends Record> Node apply(OpDef<A> op, A attrs, Node... in) {
        OpDef.Output out = op.infer(attrs, in);
        Layout[] layouts = new Layout[in.length];
        for (int i = 0; i < in.length; i++) layouts[i] = in[i].layout();
        return add(op, attrs, op.label(attrs), List.of(in), out.dtype(), op.outputLayout(attrs, layouts, out.shape()));
    }

    public Node linear(Node x, Node w, Node bias) {
        return bias == null ? apply(Linear.OP, Linear.ATTRS, x, w) : apply(Linear.OP, Linear.ATTRS, x, w, bias);
    }

    public Node matmul(Node a, Node b) {
        return apply(Matmul.OP, Matmul.ATTRS, a, b);
    }

    public Node binary(BinaryOp op, Node a, Node b) {
        return apply(Binary.OP, Binary.of(op), a, b);
    }

    public Node add(Node a, Node b) {
        return binary(BinaryOp.ADD, a, b);
    }

    public Node sub(Node a, Node b) {
        return binary(BinaryOp.SUB, a, b);
    }

    public Node mul(Node a, Node b) {
        return binary(BinaryOp.MUL, a, b);
    }

    public Node div(Node a, Node b) {
        return binary(BinaryOp.DIV, a, b);
    }

    public Node scale(Node x, float factor) {
        return apply(Scale.OP, new Scale(factor), x);
    }

    public Node unary(UnaryOp op, Node x) {
        return apply(Unary.OP, Unary.of(op), x);
    }

    public Node silu(Node x) {
        return unary(UnaryOp.SILU, x);
    }

    public Node relu(Node x) {
        return unary(UnaryOp.RELU, x);
    }

    public Node exp(Node x) {
        return unary(UnaryOp.EXP, x);
    }

    public Node gelu(Node x, boolean tanhApproximation) {
        return unary(tanhApproximation ? UnaryOp.GELU_TANH : UnaryOp.GELU_ERF, x);
    }

    public Node softplus(Node x) {
        return apply(Softplus.OP, Softplus.ATTRS, x);
    }

    public Node softmax(Node x, int dim) {
        return apply(Softmax.OP, Softmax.along(dim), x);
    }

    /** Softmax over the last dimension of [..., queries, keys] with the usual causal mask (diagonal keys - queries). */
    public Node causalSoftmax(Node x) {
        return apply(Softmax.OP, new Softmax(-1, true, false, Softmax.BOTTOM_RIGHT), x);
    }

    public Node rmsnorm(Node x, Node weight, float eps) {
        return weight == null ? apply(RmsNorm.OP, new RmsNorm(eps), x) : apply(RmsNorm.OP, new RmsNorm(eps), x, weight);
    }

    /** Layer norm with a weight and a bias, or with neither. */
    public Node layernorm(Node x, Node weight, Node bias, float eps) {
        if ((weight == null) != (bias == null)) throw new IllegalArgumentException("layernorm: give both weight and bias, or neither");
        LayerNorm attrs = new LayerNorm(eps, weight != null, bias != null);
        return weight == null ? apply(LayerNorm.OP, attrs, x) : apply(LayerNorm.OP, attrs, x, weight, bias);
    }

    public Node rope(Node x, int seqDim, int positionOffset, double theta, RopeStyle style) {
        return apply(Rope.OP, Rope.withTheta(x, seqDim, positionOffset, theta, style), x);
    }

    public Node reduce(ReduceOp op, Node x, int dim, boolean keepDim) {
        return apply(Reduce.OP, new Reduce(op, dim, keepDim), x);
    }

    public Node sum(Node x, int dim, boolean keepDim) {
        return reduce(ReduceOp.SUM, x, dim, keepDim);
    }

    public Node mean(Node x, int dim, boolean keepDim) {
        return reduce(ReduceOp.MEAN, x, dim, keepDim);
    }

    public Node max(Node x, int dim, boolean keepDim) {
        return reduce(ReduceOp.MAX, x, dim, keepDim);
    }

    public Node concat(int dim, Node... parts) {
        return apply(Concat.OP, new Concat(dim), parts);
    }

    /**
     * Flash attention of q [B, H, Nq, D] over k, v [B, Hkv, Nk, D]: never materialises the scores.
     * Causal uses the bottom-right mask (query i sees keys j &lt;= i + Nk - Nq).
     */
    public Node attention(Node q, Node k, Node v, boolean causal, float scale) {
        if (q.rank() != 4 || k.rank() != 4) return apply(Attention.OP, new Attention(Mask.NONE, scale, 0f), q, k, v); // its checks say why
        Mask mask = causal ? Mask.causalBottomRight(q.size(2), k.size(2)) : Mask.NONE;
        return apply(Attention.OP, new Attention(mask, scale, 0f), q, k, v);
    }

    // ---------------------------------------------------------------- views

    /** Tensor.reshape: a view of a contiguous value, else a contiguous copy. One size may be -1. */
    public Node reshape(Node x, int... shape) {
        int[] resolved = Reshape.OP.infer(new Reshape(shape.clone()), x).shape();
        return apply(Reshape.OP, new Reshape(resolved), x);
    }

    public Node permute(Node x, int... order) {
        return apply(Permute.OP, new Permute(order.clone()), x);
    }

    public Node transpose(Node x, int dim0, int dim1) {
        return apply(Permute.OP, Permute.transpose(x.rank(), dim0, dim1), x);
    }

    public Node contiguous(Node x) {
        return apply(Contiguous.OP, Contiguous.ATTRS, x);
    }

    /**
     * A function the compiler cannot see into. It runs as given, but compiling a graph that holds
     * it fails: there is no dimension rule to say which dims it mixes.
     */
    public Node custom(String name, Function<Tensor[], Tensor> fn, int[] shape, Node... in) {
        Sources.Custom attrs = new Sources.Custom(name, fn, DType.F32, shape.clone());
        return add(Sources.CUSTOM, attrs, name, List.of(in), DType.F32, Layout.contiguous(shape));
    }

    // ---------------------------------------------------------------- result

    /** The graph of everything traced so far, with these outputs. */
    public Graph build(Node... outputs) {
        if (outputs.length == 0) throw new IllegalArgumentException("build: a graph needs at least one output");
        return new Graph(nodes, inputs, List.of(outputs));
    }
}
