package dev.corvus.attention;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.corvus.opencl.OpenClDevices;
import dev.corvus.tensor.Backend;
import dev.corvus.tensor.BackendProvider;
import dev.corvus.tensor.Backends;
import dev.corvus.tensor.BinaryOp;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.Device;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.ReduceOp;
import dev.corvus.tensor.RopeStyle;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.UnaryOp;
import dev.corvus.tensor.op.Argmax;
import dev.corvus.tensor.op.Binary;
import dev.corvus.tensor.op.Concat;
import dev.corvus.tensor.op.Contiguous;
import dev.corvus.tensor.op.Convert;
import dev.corvus.tensor.op.Copy;
import dev.corvus.tensor.op.CopyInto;
import dev.corvus.tensor.op.Embedding;
import dev.corvus.tensor.op.LayerNorm;
import dev.corvus.tensor.op.Linear;
import dev.corvus.tensor.op.Matmul;
import dev.corvus.tensor.op.Narrow;
import dev.corvus.tensor.op.OpDef;
import dev.corvus.tensor.op.OpRegistry;
import dev.corvus.tensor.op.Permute;
import dev.corvus.tensor.op.Reduce;
import dev.corvus.tensor.op.Reshape;
import dev.corvus.tensor.op.RmsNorm;
import dev.corvus.tensor.op.Rope;
import dev.corvus.tensor.op.Scale;
import dev.corvus.tensor.op.Softmax;
import dev.corvus.tensor.op.Softplus;
import dev.corvus.tensor.op.ToDevice;
import dev.corvus.tensor.op.Unary;
import dev.corvus.tensor.testing.Close;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * One conformance suite for every registered op on every backend this JVM can run (after ggml's
 * test-backend-ops): each op's cases, on awkward sizes (1, 7, 13, primes, non-multiples of the
 * vector width, one large), run through the op's definition with each backend's kernels and are
 * compared with the op's scalar reference ({@link OpDef#reference}), tolerance growing with the
 * reduction length. The backends: the scalar reference itself, every CPU provider on the class
 * path (the Vector API one), and the OpenCL device when there is one (PoCL here). An op without
 * cases fails {@link #everyRegisteredOpHasCases}: a new op is not done until it is covered here.
 */
class OpConformanceTest {
    /** A backend and the device its operands live on. */
    record Target(String name, Backend backend, Device device) {}

    /**
     * One run of an op: attributes, a supplier of host operands, the tolerance scale, and whether
     * the case uses a type only CPU backends take (quantised weights: the OpenCL backend refuses
     * them by design, with its own tests for the refusal). Operands reach a device contiguous;
     * {@code view} then makes views of them where they are (on the host for the reference, on the
     * target's device for the run), so a strided operand stays strided on an accelerator.
     */
    record Case(String what, Record attrs, Supplier<Tensor[]> inputs, double tol, boolean hostOnly, UnaryOperator<Tensor[]> view) {
        Case(String what, Record attrs, Supplier<Tensor[]> inputs, double tol, boolean hostOnly) {
            this(what, attrs, inputs, tol, hostOnly, UnaryOperator.identity());
        }
    }

    static List<Target> targets() {
        List<Target> targets = new ArrayList<>();
        targets.add(new Target("scalar", Backends.scalar(), Device.CPU));
        for (BackendProvider p : Backends.providers()) {
            if (p.priority() > 0 && p.unavailableReason().isEmpty()) targets.add(new Target(p.name(), Backends.named(p.name()), Device.CPU));
        }
        Optional<String> noOpenCl = OpenClDevices.unavailableReason();
        if (noOpenCl.isEmpty()) {
            Device dev = Backends.device("opencl");
            targets.add(new Target("opencl", Backends.of(dev), dev));
        } else {
            System.err.println("OpConformanceTest: no OpenCL target: " + noOpenCl.get());
        }
        return targets;
    }

    @Test
    void everyRegisteredOpHasCases() {
        for (OpDef<?> op : OpRegistry.all()) assertThat(cases(op.name())).as("conformance cases for %s", op).isNotEmpty();
        assertThat(targets()).extracting(Target::name).as("this JVM runs at least the scalar and the vector backend").contains("scalar", "vector");
    }

    /**
     * What each backend runs with its own kernels and what falls back to the scalar reference
     * kernel: every op with a Backend method is its own; a registry-dispatched op is its own
     * exactly when {@link Backend#supports} says so, and then its run takes it; views compute
     * nothing. Printed per backend, as ggml's test-backend-ops lists what each backend supports.
     */
    @Test
    void everyBackendSaysWhichOpsItRunsWithItsOwnKernels() {
        for (Target t : targets()) {
            List<String> own = new ArrayList<>(), fallback = new ArrayList<>(), views = new ArrayList<>();
            for (OpDef<?> op : OpRegistry.all()) {
                boolean supported = t.backend().supports(op);
                switch (op.kernelKind()) {
                    case BACKEND_METHOD -> assertThat(supported).as("%s on %s", op, t.name()).isTrue();
                    case VIEW -> assertThat(supported).as("%s on %s", op, t.name()).isFalse();
                    case REGISTRY -> assertThat(runTakes(op, t)).as("%s on %s: run(op) takes it iff supports(op)", op, t.name()).isEqualTo(supported);
                }
                (op.kernelKind() == OpDef.Kernel.VIEW ? views : supported ? own : fallback).add(op.name());
            }
            System.out.printf("OpConformanceTest: %s runs %d ops with its own kernels %s; the scalar reference kernel for %s; views %s%n", t.name(),
                    own.size(), own, fallback, views);
        }
        assertThat(Backends.scalar().supports(Softplus.OP)).as("the scalar backend's kernel for softplus is the reference").isFalse();
    }

    /** Whether the backend's run(op) takes the op's first case (operands on its device, out allocated there). */
    private static <A extends Record> boolean runTakes(OpDef<A> op, Target target) {
        Case c = cases(op.name()).getFirst();
        try (MemoryScope scope = MemoryScope.open("supports")) {
            A attrs = op.cast(c.attrs());
            Tensor[] host = c.inputs().get();
            Tensor[] operands = new Tensor[host.length];
            for (int i = 0; i < host.length; i++) operands[i] = Ops.toDevice(host[i], target.device());
            OpDef.Output o = op.infer(attrs, operands);
            return target.backend().run(op, attrs, operands, target.backend().allocate(scope, o.dtype(), o.shape()));
        }
    }

    @TestFactory
    Stream<DynamicTest> everyOpOnEveryBackendMatchesTheScalarReference() {
        List<DynamicTest> tests = new ArrayList<>();
        for (Target t : targets()) {
            for (OpDef<?> op : OpRegistry.all()) tests.add(DynamicTest.dynamicTest(op.name() + " on " + t.name(), () -> check(op, t)));
        }
        return tests.stream();
    }

    private static <A extends Record> void check(OpDef<A> op, Target target) {
        int ran = 0;
        for (Case c : cases(op.name())) {
            if (c.hostOnly() && !target.device().equals(Device.CPU)) continue;
            try (MemoryScope scope = MemoryScope.open("conformance")) {
                A attrs = op.cast(c.attrs());
                Tensor[] host = c.inputs().get();
                Tensor[] operands = new Tensor[host.length];
                for (int i = 0; i < host.length; i++) operands[i] = Ops.toDevice(host[i], target.device());
                host = c.view().apply(host);
                operands = c.view().apply(operands);
                Tensor expected = op.reference(attrs, host);
                Tensor actual;
                try {
                    actual = op.run(target.backend(), attrs, operands);
                } catch (RuntimeException e) {
                    throw new AssertionError(op + " " + c.what() + " on " + target.name() + " failed: " + e, e);
                }
                assertThat(actual.device()).as("%s %s result device", op, c.what()).isEqualTo(op.outputDevice(attrs, target.device()));
                Tensor got = Ops.toDevice(actual, Device.CPU);
                String what = op + " " + c.what() + " on " + target.name();
                assertThat(got.shape()).as(what).containsExactly(expected.shape());
                assertThat(got.dtype()).as(what).isEqualTo(expected.dtype());
                if (expected.dtype() == DType.I32) {
                    assertThat(got.toIntArray()).as(what).containsExactly(expected.toIntArray());
                } else {
                    Close.assertAllClose(what, Ops.convert(expected, DType.F32).toFloatArray(), Ops.convert(got, DType.F32).toFloatArray(),
                            c.tol(), c.tol());
                }
                ran++;
            }
        }
        assertThat(ran).as("cases run for %s on %s", op, target.name()).isPositive();
    }

    // ---------------------------------------------------------------- cases

    /** Lengths that catch tails and odd tilings: 1, small primes, around the vector width, and one large. */
    private static final int[] SIZES = {1, 7, 13, 17, 31, 33, 127};
    private static final int LARGE = 4099;

    /** Sums of products stay within a few ulps per term, so the tolerance grows like sqrt(length). */
    private static double reduction(int length) {
        return Close.reductionTolerance(length, 2e-6);
    }

    private static Tensor rand(long seed, int... shape) {
        return Tensor.randn(seed, shape);
    }

    /** Values in [lo, hi): divisors kept away from zero, say. */
    private static Tensor uniform(long seed, float lo, float hi, int... shape) {
        SplittableRandom r = new SplittableRandom(seed);
        long n = 1;
        for (int s : shape) n *= s;
        float[] v = new float[(int) n];
        for (int i = 0; i < v.length; i++) v[i] = lo + (float) r.nextDouble() * (hi - lo);
        return Tensor.of(v, shape);
    }

    /** Integers in [-127, 127] with 127 first in every block of 32 along the last dim: what 8-bit block coding holds exactly. */
    private static Tensor eightBitExact(long seed, int rows, int k) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[rows * k];
        for (int i = 0; i < v.length; i++) v[i] = i % 32 == 0 ? 127 : r.nextInt(-127, 128);
        return Tensor.of(v, rows, k);
    }

    private static Tensor[] of(Tensor... t) {
        return t;
    }

    static List<Case> cases(String op) {
        List<Case> cs = new ArrayList<>();
        switch (op) {
            case "matmul" -> {
                int[][] mkn = {{1, 1, 1}, {7, 13, 17}, {13, 33, 7}, {1, 257, 33}, {33, 127, 65}, {64, 1000, 97}};
                for (int[] s : mkn) {
                    int m = s[0], k = s[1], n = s[2];
                    cs.add(new Case(m + "x" + k + "x" + n, Matmul.ATTRS, () -> of(rand(1, m, k), rand(2, k, n)), reduction(k), false));
                    cs.add(new Case(m + "x" + k + "x" + n + " F16 weight", Matmul.ATTRS,
                            () -> of(rand(3, m, k), Ops.convert(rand(4, n, k), DType.F16).t()), reduction(k), false));
                }
                cs.add(new Case("batch broadcast [2,1,7,13]x[3,13,5]", Matmul.ATTRS, () -> of(rand(5, 2, 1, 7, 13), rand(6, 3, 13, 5)), reduction(13), false));
                cs.add(new Case("strided a", Matmul.ATTRS, () -> of(rand(7, 33, 7).t(), rand(8, 33, 13)), reduction(33), false));
                // The vector GEMV codes activations in 8 bits per block of 32 (as llama.cpp does); integer activations
                // with a 127 in every block code exactly, so every backend must then give the float result.
                cs.add(new Case("Q8_0 weight 7x64x13", Matmul.ATTRS, () -> of(eightBitExact(9, 7, 64), Ops.quantize(rand(10, 13, 64)).t()), reduction(64), true));
                cs.add(new Case("Q8_0 weight 33x96x5", Matmul.ATTRS, () -> of(eightBitExact(11, 33, 96), Ops.quantize(rand(12, 5, 96)).t()), reduction(96), true));
            }
            case "linear" -> {
                for (int k : new int[] {1, 13, 33, 257}) {
                    cs.add(new Case("x[7," + k + "] w[17," + k + "] bias", Linear.ATTRS, () -> of(rand(11, 7, k), rand(12, 17, k), rand(13, 17)),
                            reduction(k), false));
                    cs.add(new Case("x[" + k + "] w[5," + k + "]", Linear.ATTRS, () -> of(rand(14, k), rand(15, 5, k)), reduction(k), false));
                }
                cs.add(new Case("x[2,13,64] BF16 w[31,64]", Linear.ATTRS, () -> of(rand(16, 2, 13, 64), Ops.convert(rand(17, 31, 64), DType.BF16)),
                        reduction(64), false));
            }
            case "binary" -> {
                for (BinaryOp b : BinaryOp.values()) {
                    Binary attrs = Binary.of(b);
                    for (int n : SIZES) {
                        cs.add(new Case(b + " [3," + n + "]", attrs, () -> of(rand(20, 3, n), uniform(21, 0.5f, 2f, 3, n)), 0, false));
                        cs.add(new Case(b + " row [5," + n + "] op [" + n + "]", attrs, () -> of(rand(22, 5, n), uniform(23, 0.5f, 2f, n)), 0, false));
                        cs.add(new Case(b + " column [" + n + ",3] op [" + n + ",1]", attrs, () -> of(rand(24, n, 3), uniform(25, 0.5f, 2f, n, 1)), 0, false));
                        cs.add(new Case(b + " [" + n + "] op [2," + n + "]", attrs, () -> of(rand(26, n), uniform(27, 0.5f, 2f, 2, n)), 0, false));
                    }
                    cs.add(new Case(b + " scalar", attrs, () -> of(rand(28, LARGE), uniform(29, 0.5f, 2f, 1)), 0, false));
                    cs.add(new Case(b + " strided", attrs, () -> of(rand(30, 13, 7).t(), uniform(31, 0.5f, 2f, 7, 13)), 0, false));
                }
            }
            case "scale" -> {
                for (int n : SIZES) cs.add(new Case("[" + n + "] * 0.37", new Scale(0.37f), () -> of(rand(40, n)), 0, false));
                cs.add(new Case("large F16", new Scale(-3f), () -> of(Ops.convert(rand(41, LARGE), DType.F16)), 0, false));
            }
            case "unary" -> {
                for (UnaryOp u : UnaryOp.values()) {
                    for (int n : SIZES) cs.add(new Case(u + " [2," + n + "]", Unary.of(u), () -> of(Ops.scale(rand(42, 2, n), 4f)), 2e-6, false));
                    cs.add(new Case(u + " large", Unary.of(u), () -> of(Ops.scale(rand(43, LARGE), 4f)), 2e-6, false));
                }
            }
            case "softplus" -> {
                for (int n : SIZES) cs.add(new Case("[3," + n + "]", Softplus.ATTRS, () -> of(Ops.scale(rand(44, 3, n), 6f)), 2e-6, false));
                cs.add(new Case("large strided", Softplus.ATTRS, () -> of(Ops.scale(rand(45, 97, 43), 30f).t()), 2e-6, false));
            }
            case "softmax" -> {
                for (int n : SIZES) {
                    cs.add(new Case("rows [5," + n + "]", Softmax.along(-1), () -> of(rand(50, 5, n)), reduction(n), false));
                    cs.add(new Case("log [3," + n + "]", new Softmax(-1, false, true, Softmax.BOTTOM_RIGHT), () -> of(rand(51, 3, n)), reduction(n), false));
                    cs.add(new Case("dim 0 [" + n + ",6]", Softmax.along(0), () -> of(rand(52, n, 6)), reduction(n), false));
                    cs.add(new Case("causal [2," + n + "," + (n + 3) + "]", new Softmax(-1, true, false, Softmax.BOTTOM_RIGHT),
                            () -> of(rand(53, 2, n, n + 3)), reduction(n + 3), false));
                }
                cs.add(new Case("causal block, diagonal 4 of [7,13]", new Softmax(-1, true, false, 4), () -> of(rand(54, 7, 13)), reduction(13), false));
                cs.add(new Case("large", Softmax.along(-1), () -> of(rand(55, 3, LARGE)), reduction(LARGE), false));
            }
            case "rmsnorm" -> {
                for (int n : SIZES) {
                    cs.add(new Case("[4," + n + "] weight", new RmsNorm(1e-5f), () -> of(rand(60, 4, n), rand(61, n)), reduction(n), false));
                    cs.add(new Case("[4," + n + "]", new RmsNorm(1e-6f), () -> of(rand(62, 4, n)), reduction(n), false));
                }
                cs.add(new Case("large", new RmsNorm(1e-5f), () -> of(rand(63, 2, LARGE), rand(64, LARGE)), reduction(LARGE), false));
            }
            case "layernorm" -> {
                for (int n : SIZES) {
                    cs.add(new Case("[4," + n + "] weight bias", new LayerNorm(1e-5f, true, true), () -> of(rand(65, 4, n), rand(66, n), rand(67, n)),
                            reduction(n), false));
                    cs.add(new Case("[4," + n + "] bias only", new LayerNorm(1e-5f, false, true), () -> of(rand(68, 4, n), rand(69, n)), reduction(n), false));
                }
                cs.add(new Case("large", new LayerNorm(1e-5f, false, false), () -> of(rand(70, 2, LARGE)), reduction(LARGE), false));
            }
            case "rope" -> {
                for (int d : new int[] {2, 8, 14, 64, 128}) {
                    for (RopeStyle style : RopeStyle.values()) {
                        cs.add(new Case(style + " [13,3," + d + "] offset 5", new Rope(0, 5, freqs(d), 1, style), () -> of(rand(71, 13, 3, d)), 2e-5, false));
                        cs.add(new Case(style + " [2,4,7," + d + "] seq dim 2, scaled", new Rope(2, 1000, freqs(d), 0.8, style),
                                () -> of(rand(72, 2, 4, 7, d)), 2e-5, false));
                    }
                }
            }
            case "embedding" -> {
                for (int d : new int[] {1, 7, 33, 64}) {
                    cs.add(new Case("F32 [17," + d + "]", Embedding.ATTRS, () -> of(rand(80, 17, d), Tensor.ofInts(new int[] {0, 16, 3, 3, 9, 1, 12}, 7)), 0, false));
                    cs.add(new Case("F16 [17," + d + "] ids [2,3]", Embedding.ATTRS,
                            () -> of(Ops.convert(rand(81, 17, d), DType.F16), Tensor.ofInts(new int[] {5, 0, 16, 2, 2, 7}, 2, 3)), 0, false));
                }
                cs.add(new Case("Q8_0 [13,64]", Embedding.ATTRS, () -> of(Ops.quantize(rand(82, 13, 64)), Tensor.ofInts(new int[] {12, 0, 5}, 3)), 0, true));
            }
            case "argmax" -> {
                for (int n : SIZES) {
                    cs.add(new Case("[5," + n + "]", new Argmax(-1), () -> of(rand(90, 5, n)), 0, false));
                    cs.add(new Case("dim 0 [" + n + ",4]", new Argmax(0), () -> of(rand(91, n, 4)), 0, false));
                }
                cs.add(new Case("large", new Argmax(-1), () -> of(rand(92, 2, LARGE)), 0, false));
            }
            case "reduce" -> {
                for (ReduceOp r : ReduceOp.values()) {
                    for (int n : SIZES) {
                        cs.add(new Case(r + " [4," + n + "]", new Reduce(r, -1, false), () -> of(rand(93, 4, n)), reduction(n), false));
                        cs.add(new Case(r + " dim 1 keep [3," + n + ",5]", new Reduce(r, 1, true), () -> of(rand(94, 3, n, 5)), reduction(n), false));
                    }
                    cs.add(new Case(r + " large", new Reduce(r, -1, false), () -> of(rand(95, 2, LARGE)), reduction(LARGE), false));
                }
            }
            case "concat" -> {
                for (int n : SIZES) {
                    cs.add(new Case("dim 1 of [3,*]", new Concat(1), () -> of(rand(100, 3, n), rand(101, 3, 1), rand(102, 3, 7)), 0, false));
                    cs.add(new Case("dim 0 of [*," + n + "]", new Concat(0), () -> of(rand(103, 2, n), rand(104, 5, n)), 0, false));
                }
            }
            case "reshape" -> {
                cs.add(new Case("[6,35] -> [2,3,35]", new Reshape(new int[] {2, 3, -1}), () -> of(rand(110, 6, 35)), 0, false));
                cs.add(new Case("strided [13,7]^T -> [91]", new Reshape(new int[] {91}), () -> of(rand(111, 13, 7).t()), 0, false));
            }
            case "permute" -> {
                cs.add(new Case("[2,3,5] (2,0,1)", new Permute(new int[] {2, 0, 1}), () -> of(rand(112, 2, 3, 5)), 0, false));
                cs.add(new Case("[7,13] transposed", Permute.transpose(2, 0, 1), () -> of(rand(113, 7, 13)), 0, false));
            }
            case "contiguous" -> {
                cs.add(new Case("strided [13,7]^T", Contiguous.ATTRS, () -> of(rand(114, 13, 7).t()), 0, false));
                cs.add(new Case("already contiguous", Contiguous.ATTRS, () -> of(rand(115, 33)), 0, false));
            }
            case "copy" -> {
                for (int n : SIZES) cs.add(new Case("[3," + n + "]", Copy.ATTRS, () -> of(rand(130, 3, n)), 0, false));
                cs.add(new Case("strided [13,7]^T", Copy.ATTRS, () -> of(rand(131, 13, 7).t()), 0, false));
                cs.add(new Case("F16 strided", Copy.ATTRS, () -> of(Ops.convert(rand(132, 31, 5), DType.F16).t()), 0, false));
                cs.add(new Case("Q8_0 [3,64]", Copy.ATTRS, () -> of(Ops.quantize(rand(133, 3, 64))), 0, true));
                cs.add(new Case("I32", Copy.ATTRS, () -> of(Tensor.ofInts(new int[] {4, -1, 7, 0, 9}, 5)), 0, false));
            }
            case "convert" -> {
                for (int n : SIZES) {
                    cs.add(new Case("F32 -> F16 [2," + n + "]", new Convert(DType.F16), () -> of(rand(134, 2, n)), 0, false));
                    cs.add(new Case("F32 -> BF16 [" + n + ",3]^T", new Convert(DType.BF16), () -> of(rand(135, n, 3).t()), 0, false));
                }
                cs.add(new Case("F16 -> F32", new Convert(DType.F32), () -> of(Ops.convert(rand(136, LARGE), DType.F16)), 0, false));
                cs.add(new Case("BF16 -> F16", new Convert(DType.F16), () -> of(Ops.convert(rand(137, 7, 13), DType.BF16)), 0, false));
                // values 8-bit block coding holds exactly, so every backend's rounding must give the same blocks
                cs.add(new Case("F32 -> Q8_0 [5,96]", new Convert(DType.Q8_0), () -> of(eightBitExact(138, 5, 96)), 0, true));
                cs.add(new Case("Q8_0 -> F32 [3,64]", new Convert(DType.F32), () -> of(Ops.quantize(rand(139, 3, 64))), 0, true));
                cs.add(new Case("Q8_0 -> F16 (through F32)", new Convert(DType.F16), () -> of(Ops.quantize(rand(140, 2, 32))), 0, true));
                cs.add(new Case("I32 -> I32", new Convert(DType.I32), () -> of(Tensor.ofInts(new int[] {3, 1, 2}, 3)), 0, false));
            }
            case "copyInto" -> { // operands: destination, source
                for (int n : SIZES) {
                    cs.add(new Case("[5," + n + "] into zeros", CopyInto.ATTRS, () -> of(Tensor.zeros(DType.F32, 5, n), rand(141, 5, n)), 0, false));
                    cs.add(new Case("strided into a row slice of [9," + n + "]", CopyInto.ATTRS,
                            () -> of(Tensor.zeros(DType.F32, 9, n).narrow(0, 2, 3), rand(142, n, 3).t()), 0, false));
                }
                cs.add(new Case("F32 into F16", CopyInto.ATTRS, () -> of(Tensor.zeros(DType.F16, 7, 13), rand(143, 7, 13)), 0, false));
                cs.add(new Case("F32 into Q8_0", CopyInto.ATTRS, () -> of(Tensor.zeros(DType.Q8_0, 3, 64), eightBitExact(144, 3, 64)), 0, true));
                cs.add(new Case("Q8_0 into F32", CopyInto.ATTRS, () -> of(Tensor.zeros(DType.F32, 2, 64), Ops.quantize(rand(145, 2, 64))), 0, true));
                cs.add(new Case("a matrix's transpose into itself", CopyInto.ATTRS, () -> {
                    Tensor m = rand(146, 17, 17);
                    return of(m, m.t());
                }, 0, false));
            }
            case "narrow" -> {
                for (int n : SIZES) {
                    cs.add(new Case("[7," + n + "] rows [2,5)", new Narrow(0, 2, 3), () -> of(rand(147, 7, n)), 0, false));
                    cs.add(new Case("last column of [3," + n + "]", new Narrow(-1, n - 1, 1), () -> of(rand(148, 3, n)), 0, false));
                }
                cs.add(new Case("strided [13,7]^T dim 1", new Narrow(1, 4, 9), () -> of(rand(149, 13, 7).t()), 0, false));
                cs.add(new Case("Q8_0 [4,64] rows [1,3)", new Narrow(0, 1, 2), () -> of(Ops.quantize(rand(150, 4, 64))), 0, true));
            }
            case "toDevice" -> { // every target's device to every device: each (source backend, destination) pair
                for (Device to : targets().stream().map(Target::device).distinct().toList()) {
                    ToDevice attrs = new ToDevice(to);
                    for (int n : SIZES) cs.add(new Case("to " + to + " [3," + n + "]", attrs, () -> of(rand(151, 3, n)), 0, false));
                    cs.add(new Case("to " + to + " large", attrs, () -> of(rand(152, LARGE)), 0, false));
                    cs.add(new Case("to " + to + " strided [13,7]^T", attrs, () -> of(rand(153, 13, 7).t()), 0, false));
                    cs.add(new Case("to " + to + " F16 strided", attrs, () -> of(Ops.convert(rand(154, 31, 5), DType.F16).t()), 0, false));
                    cs.add(new Case("to " + to + " BF16 column slice", attrs, () -> of(Ops.convert(rand(155, 9, 13), DType.BF16).narrow(1, 3, 5)), 0, false));
                    cs.add(new Case("to " + to + " I32", attrs, () -> of(Tensor.ofInts(new int[] {4, -1, 7, 0, 9}, 5)), 0, false));
                    cs.add(new Case("to " + to + " Q8_0 [3,64]", attrs, () -> of(Ops.quantize(rand(156, 3, 64))), 0, true));
                    cs.add(new Case("to " + to + " from a transposed view on the source device", attrs, () -> of(rand(157, 13, 7)), 0, false,
                            t -> of(t[0].t())));
                    cs.add(new Case("to " + to + " from an F16 column slice on the source device", attrs, () -> of(Ops.convert(rand(158, 9, 13), DType.F16)),
                            0, false, t -> of(t[0].narrow(1, 3, 5))));
                }
            }
            case "attention" -> {
                for (int d : new int[] {8, 13, 64}) {
                    for (int n : new int[] {1, 7, 65}) {
                        cs.add(new Case("full Nq=Nk=" + n + " D=" + d, new Attention(Mask.NONE, 0.3f, 0f),
                                () -> of(rand(120, 1, 4, n, d), rand(121, 1, 2, n, d), rand(122, 1, 2, n, d)), reduction(n + d), false));
                        cs.add(new Case("causal Nq=" + n + " Nk=" + (n + 9) + " D=" + d, new Attention(Mask.causalBottomRight(n, n + 9), 0.3f, 0f),
                                () -> of(rand(123, 2, 2, n, d), rand(124, 2, 1, n + 9, d), rand(125, 2, 1, n + 9, d)), reduction(n + d + 9), false));
                    }
                }
            }
            default -> fail("no conformance cases for op '" + op + "': add them to OpConformanceTest.cases");
        }
        return cs;
    }

    /** Plain RoPE frequencies for head dimension d, base 10000. */
    private static double[] freqs(int d) {
        return dev.corvus.tensor.RopeTable.frequencies(d, 10000, 1, null);
    }
}
