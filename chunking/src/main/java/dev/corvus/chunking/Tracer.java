package dev.corvus.chunking;

import dev.corvus.tensor.BinaryOp;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.ReduceOp;
import dev.corvus.tensor.RopeStyle;
import dev.corvus.tensor.Shapes;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.UnaryOp;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;

/**
 * Records a model as a graph instead of running it: each method mirrors the tensor API op of the
 * same name ({@code Ops.linear}, {@code Tensor.permute}, ...), checks shapes as that op would, and
 * returns the new node.
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

    private Node add(Op op, String label, List<Node> in, int[] ints, double[] reals, Object attr, DType dtype, Layout layout) {
        for (Node n : in) {
            if (n != null && (n.id() >= nodes.size() || nodes.get(n.id()) != n)) {
                throw new IllegalArgumentException(label + ": operand " + n.describe() + " belongs to another tracer");
            }
        }
        Node node = new Node(nodes.size(), op, label, in, ints, reals, attr, dtype, layout);
        nodes.add(node);
        return node;
    }

    private Node compute(Op op, String label, List<Node> in, int[] ints, double[] reals, Object attr, int... shape) {
        return add(op, label, in, ints, reals, attr, DType.F32, Layout.contiguous(shape));
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
        Node n = add(Op.INPUT, name, List.of(), null, null, null, dtype, Layout.contiguous(shape));
        inputs.add(n);
        return n;
    }

    /** A tensor captured now (a weight), used as is by every run. */
    public Node param(String name, Tensor value) {
        if (!value.device().equals(dev.corvus.tensor.Device.CPU)) {
            throw new IllegalArgumentException("param: '" + name + "' is on " + value.device() + "; AutoChunk traces and runs on the CPU, so pass host weights");
        }
        return add(Op.PARAM, name, List.of(), null, null, value, value.dtype(), new Layout(value.shape(), value.strides()));
    }

    // ---------------------------------------------------------------- ops

    public Node linear(Node x, Node w, Node bias) {
        if (w.rank() != 2) throw new IllegalArgumentException("linear: weight must be [N, K], got " + Shapes.str(w.shape()));
        if (x.size(x.rank() - 1) != w.size(1)) {
            throw new IllegalArgumentException("linear: input " + Shapes.str(x.shape()) + " and weight " + Shapes.str(w.shape())
                    + " do not match on K (" + x.size(x.rank() - 1) + " vs " + w.size(1) + ")");
        }
        if (bias != null && !Arrays.equals(bias.shape(), new int[] {w.size(0)})) {
            throw new IllegalArgumentException("linear: bias " + Shapes.str(bias.shape()) + " does not match weight " + Shapes.str(w.shape()));
        }
        int[] shape = x.shape();
        shape[shape.length - 1] = w.size(0);
        List<Node> in = bias == null ? List.of(x, w) : List.of(x, w, bias);
        return compute(Op.LINEAR, "linear", in, null, null, null, shape);
    }

    public Node matmul(Node a, Node b) {
        if (a.rank() < 2 || b.rank() < 2) {
            throw new IllegalArgumentException("matmul: needs rank >= 2, got " + Shapes.str(a.shape()) + " and " + Shapes.str(b.shape()));
        }
        int m = a.size(a.rank() - 2), k = a.size(a.rank() - 1), kb = b.size(b.rank() - 2), n = b.size(b.rank() - 1);
        if (k != kb) {
            throw new IllegalArgumentException("matmul: shapes " + Shapes.str(a.shape()) + " and " + Shapes.str(b.shape())
                    + " do not match on K (" + k + " vs " + kb + ")");
        }
        int[] batch = Shapes.broadcast("matmul", Arrays.copyOf(a.shape(), a.rank() - 2), Arrays.copyOf(b.shape(), b.rank() - 2));
        int[] shape = Arrays.copyOf(batch, batch.length + 2);
        shape[batch.length] = m;
        shape[batch.length + 1] = n;
        return compute(Op.MATMUL, "matmul", List.of(a, b), null, null, null, shape);
    }

    public Node binary(BinaryOp op, Node a, Node b) {
        String name = op.name().toLowerCase();
        return compute(Op.BINARY, name, List.of(a, b), null, null, op, Shapes.broadcast(name, a.shape(), b.shape()));
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
        return compute(Op.SCALE, "scale", List.of(x), null, new double[] {factor}, null, x.shape());
    }

    public Node unary(UnaryOp op, Node x) {
        return compute(Op.UNARY, op.name().toLowerCase(), List.of(x), null, null, op, x.shape());
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

    public Node softmax(Node x, int dim) {
        int d = Shapes.dim("softmax", dim, x.rank());
        return compute(Op.SOFTMAX, "softmax", List.of(x), new int[] {d}, null, null, x.shape());
    }

    /** Softmax over the last dimension of [..., queries, keys] with the usual causal mask (diagonal keys - queries). */
    public Node causalSoftmax(Node x) {
        if (x.rank() < 2) throw new IllegalArgumentException("causalSoftmax: needs rank >= 2, got " + Shapes.str(x.shape()));
        int diagonal = x.size(x.rank() - 1) - x.size(x.rank() - 2);
        return compute(Op.CAUSAL_SOFTMAX, "causalSoftmax", List.of(x), new int[] {diagonal}, null, null, x.shape());
    }

    public Node rmsnorm(Node x, Node weight, float eps) {
        checkFeature("rmsnorm", x, weight);
        return compute(Op.RMSNORM, "rmsnorm", weight == null ? List.of(x) : List.of(x, weight), null, new double[] {eps}, null, x.shape());
    }

    public Node layernorm(Node x, Node weight, Node bias, float eps) {
        checkFeature("layernorm", x, weight);
        checkFeature("layernorm", x, bias);
        if ((weight == null) != (bias == null)) throw new IllegalArgumentException("layernorm: give both weight and bias, or neither");
        List<Node> in = weight == null ? List.of(x) : List.of(x, weight, bias);
        return compute(Op.LAYERNORM, "layernorm", in, null, new double[] {eps}, null, x.shape());
    }

    private static void checkFeature(String op, Node x, Node v) {
        if (v != null && !Arrays.equals(v.shape(), new int[] {x.size(x.rank() - 1)})) {
            throw new IllegalArgumentException(op + ": " + Shapes.str(v.shape()) + " does not match the last dimension of " + Shapes.str(x.shape()));
        }
    }

    public Node rope(Node x, int seqDim, int positionOffset, double theta, RopeStyle style) {
        int s = Shapes.dim("rope", seqDim, x.rank());
        if (s == x.rank() - 1) throw new IllegalArgumentException("rope: the sequence dimension cannot be the last (feature) dimension");
        return compute(Op.ROPE, "rope", List.of(x), new int[] {s, positionOffset}, new double[] {theta}, style, x.shape());
    }

    public Node reduce(ReduceOp op, Node x, int dim, boolean keepDim) {
        String name = op.name().toLowerCase();
        int d = Shapes.dim(name, dim, x.rank());
        int[] shape = x.shape();
        int[] out;
        if (keepDim) {
            out = shape;
            out[d] = 1;
        } else {
            out = new int[shape.length - 1];
            for (int i = 0, j = 0; i < shape.length; i++) if (i != d) out[j++] = shape[i];
        }
        return compute(Op.REDUCE, name, List.of(x), new int[] {d, keepDim ? 1 : 0}, null, op, out);
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
        if (parts.length == 0) throw new IllegalArgumentException("concat: no tensors given");
        int d = Shapes.dim("concat", dim, parts[0].rank());
        int[] shape = parts[0].shape();
        int total = 0;
        for (Node p : parts) {
            boolean same = p.rank() == shape.length;
            for (int i = 0; same && i < shape.length; i++) same = i == d || p.size(i) == shape[i];
            if (!same) throw new IllegalArgumentException("concat: shapes " + Shapes.str(parts[0].shape()) + " and " + Shapes.str(p.shape()) + " differ off dimension " + d);
            total += p.size(d);
        }
        shape[d] = total;
        return compute(Op.CONCAT, "concat", List.of(parts), new int[] {d}, null, null, shape);
    }

    /**
     * Flash attention of q [B, H, Nq, D] over k, v [B, Hkv, Nk, D]: never materialises the scores.
     * Causal uses the bottom-right mask (query i sees keys j &lt;= i + Nk - Nq).
     */
    public Node attention(Node q, Node k, Node v, boolean causal, float scale) {
        if (q.rank() != 4 || k.rank() != 4 || !Arrays.equals(k.shape(), v.shape()) || q.size(0) != k.size(0) || q.size(3) != k.size(3)
                || q.size(1) % k.size(1) != 0) {
            throw new IllegalArgumentException("attention: q " + Shapes.str(q.shape()) + ", k " + Shapes.str(k.shape()) + ", v "
                    + Shapes.str(v.shape()) + " are not [B, H, Nq, D], [B, Hkv, Nk, D] with Hkv dividing H");
        }
        int queryStart = causal ? k.size(2) - q.size(2) : 0;
        return compute(Op.ATTENTION, "attention", List.of(q, k, v), new int[] {causal ? 1 : 0, queryStart}, new double[] {scale}, null, q.shape());
    }

    // ---------------------------------------------------------------- views

    /** Tensor.reshape: a view of a contiguous value, else a contiguous copy. One size may be -1. */
    public Node reshape(Node x, int... shape) {
        int[] s = shape.clone();
        long known = 1;
        int infer = -1;
        for (int i = 0; i < s.length; i++) {
            if (s[i] == -1 && infer < 0) infer = i;
            else if (s[i] < 0) throw new IllegalArgumentException("reshape: bad size in " + Shapes.str(shape));
            else known *= s[i];
        }
        if (infer >= 0 && known > 0) s[infer] = (int) (x.numel() / known);
        if (Shapes.numel(s) != x.numel()) {
            throw new IllegalArgumentException("reshape: shape " + Shapes.str(x.shape()) + " (" + x.numel() + " elements) cannot become " + Shapes.str(shape));
        }
        return add(Op.RESHAPE, "reshape", List.of(x), s, null, null, x.dtype(), Layout.contiguous(s));
    }

    public Node permute(Node x, int... order) {
        if (order.length != x.rank()) throw new IllegalArgumentException("permute: order " + Arrays.toString(order) + " does not match rank of " + Shapes.str(x.shape()));
        int[] o = new int[order.length];
        boolean[] seen = new boolean[order.length];
        for (int i = 0; i < order.length; i++) {
            o[i] = Shapes.dim("permute", order[i], x.rank());
            if (seen[o[i]]) throw new IllegalArgumentException("permute: dimension " + o[i] + " repeats in " + Arrays.toString(order));
            seen[o[i]] = true;
        }
        return add(Op.PERMUTE, "permute", List.of(x), o, null, null, x.dtype(), x.layout().permute(o));
    }

    public Node transpose(Node x, int dim0, int dim1) {
        int a = Shapes.dim("transpose", dim0, x.rank()), b = Shapes.dim("transpose", dim1, x.rank());
        int[] order = new int[x.rank()];
        for (int i = 0; i < order.length; i++) order[i] = i;
        order[a] = b;
        order[b] = a;
        return permute(x, order);
    }

    public Node contiguous(Node x) {
        Layout l = x.layout().isContiguous() ? x.layout() : Layout.contiguous(x.shape());
        return add(Op.CONTIGUOUS, "contiguous", List.of(x), null, null, null, x.dtype(), l);
    }

    /**
     * A function the compiler cannot see into. It runs as given, but compiling a graph that holds
     * it fails: there is no dimension rule to say which dims it mixes.
     */
    public Node custom(String name, Function<Tensor[], Tensor> fn, int[] shape, Node... in) {
        return compute(Op.CUSTOM, name, List.of(in), null, null, fn, shape);
    }

    // ---------------------------------------------------------------- result

    /** The graph of everything traced so far, with these outputs. */
    public Graph build(Node... outputs) {
        if (outputs.length == 0) throw new IllegalArgumentException("build: a graph needs at least one output");
        return new Graph(nodes, inputs, List.of(outputs));
    }
}
