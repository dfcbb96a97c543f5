package dev.corvus.chunking;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.testing.Close;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Compiles randomly generated graphs at several budgets and checks what must hold of every plan:
 * the chunk dim is never mixed inside its region, chunked operands are read along their own chunk
 * dim, regions do not overlap, hoisted nodes have no chunked ancestors, the estimate is the
 * measured peak, the measured peak fits the budget, and the output equals the unchunked one.
 */
class RandomGraphLegalityTest {
    private static final ChunkTimeModel COST = ChunkTimeModel.NOMINAL;

    @Test
    void plansOnRandomGraphsAreLegalExactAndEquivalent() {
        int compiled = 0, chunked = 0;
        for (int seed = 0; seed < 40; seed++) {
            try (MemoryScope scope = MemoryScope.open("random-" + seed)) {
                SplittableRandom rnd = new SplittableRandom(seed);
                Tracer tr = new Tracer();
                int[] dims = {pick(rnd, 1, 7, 13, 16, 29), pick(rnd, 7, 13, 31, 64), pick(rnd, 5, 8, 17, 24)};
                Node x = tr.input("x", dims);
                List<Node> outs = randomGraph(tr, scope, rnd, x, 10 + rnd.nextInt(20));
                Graph g = tr.build(outs.toArray(Node[]::new));
                Tensor in = Tensor.rand(scope, seed, -1, 1, dims);
                ChunkedProgram plain = AutoChunk.unchunked(g);
                List<float[]> expected = new ArrayList<>();
                try (Execution r = plain.run(in)) {
                    for (Tensor t : r.outputs()) expected.add(t.toFloatArray());
                    assertThat(r.peakBytes()).as("unchunked estimate, seed %d%s", seed, perNode(plain, r)).isEqualTo(plain.estimatedPeakBytes());
                }
                for (double frac : new double[] {0.7, 0.4, 0.15}) {
                    long budget = (long) (plain.estimatedPeakBytes() * frac);
                    ChunkedProgram p;
                    try {
                        p = AutoChunk.compile(g, budget, COST);
                    } catch (IllegalArgumentException infeasible) {
                        assertThat(infeasible).hasMessageContaining("smallest budget the search reached");
                        continue;
                    }
                    compiled++;
                    if (!p.regions().isEmpty()) chunked++;
                    String why = "seed " + seed + " budget " + frac + "\n" + g + "\n" + p.explain();
                    checkLegality(p, why);
                    assertThat(p.estimatedPeakBytes()).as(why).isLessThanOrEqualTo(budget);
                    try (Execution r = p.run(in)) {
                        assertThat(r.peakBytes()).as(why + perNode(p, r)).isEqualTo(p.estimatedPeakBytes()).isLessThanOrEqualTo(budget);
                        for (int o = 0; o < expected.size(); o++) {
                            Close.assertAllClose(why, expected.get(o), r.output(o).toFloatArray(), 1e-5, 1e-5);
                        }
                    }
                }
            }
        }
        System.out.printf("random graphs: %d plans compiled, %d with regions%n", compiled, chunked);
        // Not vacuous: many budgets compile, and most of those needed chunking.
        assertThat(compiled).isGreaterThan(25);
        assertThat(chunked).isGreaterThan(25);
    }

    /** Estimated and measured peak per node, marking where they differ. */
    static String perNode(ChunkedProgram p, Execution r) {
        long[] est = MemoryEstimator.estimate(p.graph(), p.regions()).peakAt();
        long[] got = r.peakAt();
        StringBuilder sb = new StringBuilder("\n");
        for (int i = 0; i < est.length; i++) {
            sb.append(est[i] == got[i] ? "   " : "!! ").append(p.graph().node(i).describe()).append(" est ").append(est[i]).append(" measured ").append(got[i]).append('\n');
        }
        return sb.toString();
    }

    static void checkLegality(ChunkedProgram p, String why) {
        Graph g = p.graph();
        Set<Node> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (ChunkRegion r : p.regions()) {
            Map<Node, Integer> dims = r.chunkDim();
            for (Node n : r.body()) {
                assertThat(seen.add(n)).as("regions overlap at %s\n%s", n, why).isTrue();
                int[] flow = DimRules.flow(n, dims.get(n));
                assertThat(flow).as("chunk dim of %s is mixed\n%s", n, why).isNotNull();
                assertThat(n.size(dims.get(n))).as(why).isEqualTo(r.extent());
                for (int j = 0; j < flow.length; j++) {
                    Integer xd = dims.get(n.input(j));
                    if (xd != null) assertThat(flow[j]).as("operand %d of %s\n%s", j, n, why).isEqualTo(xd);
                }
            }
            for (Node h : r.hoisted()) {
                assertThat(seen.add(h)).as(why).isTrue();
                assertThat(ancestors(h)).as("hoisted %s has a chunked ancestor\n%s", h, why).doesNotContainAnyElementsOf(r.body());
                assertThat(g.position(h)).as(why).isLessThan(g.position(r.first()));
            }
            // The loop's nodes are contiguous in the execution order (sources aside).
            for (int pos = g.position(r.first()); pos <= g.position(r.last()); pos++) {
                Node n = g.node(pos);
                if (n.isCompute()) assertThat(r.body()).as(why).contains(n);
            }
        }
    }

    private static Set<Node> ancestors(Node n) {
        Set<Node> out = Collections.newSetFromMap(new IdentityHashMap<>());
        List<Node> stack = new ArrayList<>(n.inputs());
        while (!stack.isEmpty()) {
            Node x = stack.removeLast();
            if (out.add(x)) stack.addAll(x.inputs());
        }
        return out;
    }

    private static int pick(SplittableRandom rnd, int... options) {
        return options[rnd.nextInt(options.length)];
    }

    /** A random mix of the op vocabulary over [A, B, C] values; returns the outputs (one or two). */
    static List<Node> randomGraph(Tracer tr, MemoryScope scope, SplittableRandom rnd, Node x, int ops) {
        List<Node> pool = new ArrayList<>(List.of(x));
        int params = 0;
        for (int i = 0; i < ops; i++) {
            Node a = pool.get(pool.size() - 1 - rnd.nextInt(Math.min(pool.size(), 4)));
            int rank = a.rank();
            int last = a.size(rank - 1);
            Node y = switch (rnd.nextInt(11)) {
                case 0 -> tr.unary(dev.corvus.tensor.UnaryOp.TANH, a);
                case 1 -> {
                    Node b = sameShape(pool, a, rnd);
                    yield b == null ? tr.silu(a) : rnd.nextBoolean() ? tr.add(a, b) : tr.mul(a, b);
                }
                case 2 -> {
                    int rows = pick(rnd, 5, 8, 12, 19);
                    Node w = tr.param("w" + params++, Tensor.randn(scope, rnd.nextLong(), (float) (1 / Math.sqrt(last)), rows, last));
                    Node b = rnd.nextBoolean() ? null : tr.param("b" + params++, Tensor.randn(scope, rnd.nextLong(), 0.1f, rows));
                    yield tr.linear(a, w, b);
                }
                case 3 -> tr.softmax(a, rnd.nextInt(rank));
                case 4 -> tr.add(a, tr.mean(a, rnd.nextInt(rank), true));
                case 5 -> tr.layernorm(a, tr.param("g" + params++, Tensor.randn(scope, rnd.nextLong(), 1f, last)),
                        tr.param("bn" + params++, Tensor.randn(scope, rnd.nextLong(), 0.1f, last)), 1e-5f);
                case 6 -> {
                    int[] order = shuffled(rnd, rank);
                    yield tr.permute(a, order);
                }
                case 7 -> rank >= 2 ? tr.scale(tr.matmul(a, tr.transpose(sameShapeOr(pool, a, rnd), rank - 2, rank - 1)), 0.1f) : tr.relu(a);
                case 8 -> rank == 3 ? tr.reshape(tr.reshape(a, a.size(0), a.size(1) * a.size(2)), a.shape()) : tr.exp(tr.scale(a, 0.1f));
                case 9 -> tr.contiguous(a);
                default -> rank >= 2 ? tr.causalSoftmax(a) : tr.relu(a);
            };
            pool.add(y);
        }
        Node out = pool.getLast();
        Node other = pool.get(1 + rnd.nextInt(pool.size() - 1));
        return other == out || rnd.nextBoolean() ? List.of(out) : List.of(out, other);
    }

    private static Node sameShape(List<Node> pool, Node a, SplittableRandom rnd) {
        List<Node> same = new ArrayList<>();
        for (Node n : pool) if (n != a && java.util.Arrays.equals(n.shape(), a.shape())) same.add(n);
        return same.isEmpty() ? null : same.get(rnd.nextInt(same.size()));
    }

    private static Node sameShapeOr(List<Node> pool, Node a, SplittableRandom rnd) {
        Node b = sameShape(pool, a, rnd);
        return b == null ? a : b;
    }

    private static int[] shuffled(SplittableRandom rnd, int rank) {
        int[] o = new int[rank];
        for (int i = 0; i < rank; i++) o[i] = i;
        for (int i = rank - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = o[i];
            o[i] = o[j];
            o[j] = t;
        }
        return o;
    }
}
