package dev.corvus.chunking;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.attention.FlashAttention;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.op.OpDef;
import dev.corvus.tensor.op.OpRegistry;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The compiler's promises: one op vocabulary, explicit dimension rules, clear failures, monotone budgets. */
class CompilerContractTest {
    private static final ChunkTimeModel COST = ChunkTimeModel.NOMINAL;
    private MemoryScope scope;

    @BeforeEach
    void open() {
        scope = MemoryScope.open("contract");
    }

    @AfterEach
    void close() {
        scope.close();
    }

    @Test
    void everyRegisteredOpNamesARealTensorApiMethod() {
        assertThat(OpRegistry.all()).as("the attention module's ops are registered when it is on the class path")
                .anyMatch(op -> op.name().equals("attention"));
        for (OpDef<?> op : OpRegistry.all()) {
            String[] parts = op.apiName().split("\\.");
            Class<?> owner = switch (parts[0]) {
                case "Ops" -> Ops.class;
                case "Tensor" -> Tensor.class;
                case "FlashAttention" -> FlashAttention.class;
                default -> throw new AssertionError("unknown owner in " + op.apiName());
            };
            assertThat(Arrays.stream(owner.getMethods()).map(Method::getName).filter(parts[1]::equals))
                    .as("%s names %s", op, op.apiName()).isNotEmpty();
            assertThat(Arrays.stream(owner.getMethods()).filter(m -> m.getName().equals(parts[1])).anyMatch(m -> Modifier.isPublic(m.getModifiers()))).isTrue();
        }
    }

    @Test
    void dimensionRulesSayWhatEachOpMixes() {
        Tracer t = new Tracer();
        Node x = t.input("x", 6, 10, 8);
        Node w = t.param("w", Tensor.randn(1, 4, 8));
        Node lin = t.linear(x, w, null);
        assertThat(DimRules.flow(lin, 0)).containsExactly(0, DimRules.WHOLE);
        assertThat(DimRules.flow(lin, 2)).as("output features mix the input's K").isNull();
        Node mm = t.matmul(x, t.transpose(x, 1, 2)); // [6, 10, 10]
        assertThat(DimRules.flow(mm, 0)).containsExactly(0, 0);
        assertThat(DimRules.flow(mm, 1)).containsExactly(1, DimRules.WHOLE);
        assertThat(DimRules.flow(mm, 2)).isNull();
        Node sm = t.softmax(x, 1);
        assertThat(DimRules.flow(sm, 1)).isNull();
        assertThat(DimRules.flow(sm, 2)).containsExactly(2);
        Node red = t.sum(x, 1, false); // [6, 8]
        assertThat(DimRules.flow(red, 1)).containsExactly(2);
        Node kept = t.mean(x, 1, true);
        assertThat(DimRules.flow(kept, 1)).isNull();
        Node bcast = t.add(x, kept); // kept's size-1 dim is read whole
        assertThat(DimRules.flow(bcast, 1)).containsExactly(1, DimRules.WHOLE);
        Node perm = t.permute(x, 2, 0, 1);
        assertThat(DimRules.flow(perm, 0)).containsExactly(2);
        Node split = t.reshape(x, 6, 10, 2, 4);
        assertThat(DimRules.flow(split, 1)).containsExactly(1);
        assertThat(DimRules.flow(split, 2)).as("a dim the reshape creates").isNull();
        Node merged = t.reshape(x, 60, 8);
        assertThat(DimRules.flow(merged, 0)).as("a dim the reshape merges").isNull();
        assertThat(DimRules.flow(merged, 1)).containsExactly(2);
        Node q = t.input("q", 1, 4, 10, 8), kv = t.input("kv", 1, 2, 10, 8);
        Node att = t.attention(q, kv, kv, true, 0.3f);
        assertThat(DimRules.flow(att, 2)).containsExactly(2, DimRules.WHOLE, DimRules.WHOLE);
        assertThat(DimRules.flow(att, 1)).as("grouped KV heads").isNull();
        assertThat(DimRules.explain(lin)).contains("d2=mixed");
    }

    @Test
    void anOpWithoutARuleIsRefusedByNameNotGuessed() {
        Tracer t = new Tracer();
        Node x = t.input("x", 64, 16);
        Node y = t.custom("myFusedThing", in -> Ops.relu(in[0]), new int[] {64, 16}, t.silu(x));
        Graph g = t.build(t.exp(y));
        Tensor in = Tensor.randn(2, 64, 16);
        try (Execution r = AutoChunk.unchunked(g).run(in)) { // it still runs as traced
            assertThat(r.output(0).toFloatArray()).hasSize(64 * 16);
        }
        assertThatThrownBy(() -> AutoChunk.compile(g, 1000, COST)).isInstanceOf(UnsupportedOperationException.class)
                .hasMessageContaining("myFusedThing").hasMessageContaining("will not guess");
    }

    @Test
    void anInfeasibleBudgetNamesTheSmallestBudgetReachedAndThatBudgetCompiles() {
        Graph g = attentionLayer(128, 32, 4);
        long unchunked = AutoChunk.unchunked(g).estimatedPeakBytes();
        long smallest = AutoChunk.smallestFeasibleBudget(g, COST, AutoChunk.Selection.LEAST_SLOWDOWN);
        assertThat(smallest).isLessThan(unchunked / 2);
        assertThatThrownBy(() -> AutoChunk.compile(g, smallest / 2, COST)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("smallest budget the search reached is " + ChunkedProgram.mib(smallest));
        ChunkedProgram p = AutoChunk.compile(g, smallest, COST);
        assertThat(p.estimatedPeakBytes()).isLessThanOrEqualTo(smallest);
        assertThatThrownBy(() -> AutoChunk.compile(g, 0, COST)).hasMessageContaining("positive");
    }

    @Test
    void aLowerBudgetNeverGivesAHigherEstimatedPeak() {
        Graph g = attentionLayer(256, 32, 4);
        long unchunked = AutoChunk.unchunked(g).estimatedPeakBytes();
        long smallest = AutoChunk.smallestReachablePeak(g);
        long previous = Long.MAX_VALUE;
        for (int step = 0; step <= 24; step++) {
            long budget = unchunked - (unchunked - smallest) * step / 24;
            long peak = AutoChunk.compile(g, budget, COST).estimatedPeakBytes();
            assertThat(peak).as("budget %d", budget).isLessThanOrEqualTo(budget).isLessThanOrEqualTo(previous);
            previous = peak;
        }
    }

    @Test
    void aLargerChunkNeverLowersARegionsEstimatedPeak() {
        Graph g = attentionLayer(200, 32, 4);
        ChunkedProgram p = AutoChunk.compile(g, AutoChunk.unchunked(g).estimatedPeakBytes() / 4, COST);
        assertThat(p.regions()).isNotEmpty();
        ChunkRegion r = p.regions().getFirst();
        long previous = -1;
        for (int size = 1; size <= r.extent(); size += 7) {
            java.util.List<ChunkRegion> all = new java.util.ArrayList<>(p.regions());
            all.set(0, r.withChunkSize(size));
            long peak = MemoryEstimator.estimate(p.graph(), all).peakAt(p.graph(), r.last());
            assertThat(peak).as("chunk %d", size).isGreaterThanOrEqualTo(previous);
            previous = peak;
        }
    }

    /**
     * The Evoformer needs loops that run from its attention through the gate, the output projection
     * and the residual: a later stage must be able to grow the region an earlier one committed.
     */
    @Test
    void aLaterStageGrowsACommittedRegionWhenTheNewPeakNeedsIt() {
        var config = new dev.corvus.chunking.models.EvoformerPairBlock.Config(1, 64, 64, 4, 16);
        Graph g = dev.corvus.chunking.models.EvoformerPairBlock.trace(config, scope, 1);
        long unchunked = AutoChunk.unchunked(g).estimatedPeakBytes();
        ChunkedProgram p = AutoChunk.compile(g, unchunked * 3 / 10, COST);
        assertThat(p.regions().stream().mapToInt(r -> r.body().size()).max().orElse(0)).as(p.explain()).isGreaterThan(15);
        Tensor z = dev.corvus.chunking.models.EvoformerPairBlock.input(config, scope, 2);
        try (Execution plain = AutoChunk.unchunked(g).run(z); Execution chunked = p.run(z)) {
            assertThat(chunked.peakBytes()).isLessThanOrEqualTo(unchunked * 3 / 10);
            dev.corvus.tensor.testing.Close.assertAllClose(p.explain(), plain.output(0).toFloatArray(), chunked.output(0).toFloatArray(), 1e-5, 1e-5);
        }
    }

    @Test
    void runChecksItsInputsAgainstTheTrace() {
        Graph g = attentionLayer(16, 8, 2);
        ChunkedProgram p = AutoChunk.unchunked(g);
        assertThatThrownBy(() -> p.run(Tensor.randn(1, 16, 9))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("[16, 8]").hasMessageContaining("[16, 9]");
        assertThatThrownBy(() -> p.run()).hasMessageContaining("takes 1 inputs");
        Tensor onDevice = Ops.toDevice(Tensor.randn(1, 16, 8), new dev.corvus.tensor.Device("fake", 0)); // the tensor test-jar's pretend device
        assertThatThrownBy(() -> p.run(onDevice)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("on the CPU");
        assertThatThrownBy(() -> new Tracer().param("w", onDevice)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("host weights");
    }

    /** Causal attention over [T, C] with H heads, materialised scores, and a residual. */
    private Graph attentionLayer(int t, int c, int h) {
        Tracer tr = new Tracer();
        int d = c / h;
        Node x = tr.input("x", t, c);
        Node q = tr.permute(tr.reshape(tr.linear(x, tr.param("wq", Tensor.randn(scope, 2, 0.2f, c, c)), null), t, h, d), 1, 0, 2);
        Node k = tr.permute(tr.reshape(tr.linear(x, tr.param("wk", Tensor.randn(scope, 3, 0.2f, c, c)), null), t, h, d), 1, 0, 2);
        Node v = tr.permute(tr.reshape(tr.linear(x, tr.param("wv", Tensor.randn(scope, 4, 0.2f, c, c)), null), t, h, d), 1, 0, 2);
        Node s = tr.causalSoftmax(tr.scale(tr.matmul(q, tr.transpose(k, 1, 2)), (float) (1 / Math.sqrt(d))));
        Node o = tr.reshape(tr.permute(tr.matmul(s, v), 1, 0, 2), t, c);
        return tr.build(tr.add(x, tr.linear(o, tr.param("wo", Tensor.randn(scope, 5, 0.2f, c, c)), null)));
    }
}
