package dev.corvus.chunking.models;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.withinPercentage;

import dev.corvus.chunking.AutoChunk;
import dev.corvus.chunking.ChunkRegion;
import dev.corvus.chunking.ChunkedProgram;
import dev.corvus.chunking.ChunkTimeModel;
import dev.corvus.chunking.Execution;
import dev.corvus.chunking.Graph;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.testing.Close;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every model, compiled at several budgets (fractions of its unchunked estimated peak, down to
 * about the lowest the compiler reaches at these sizes): the chunked output equals the unchunked
 * one, the estimated activation peak is within 10% of the peak the allocator measured (in
 * practice equal), the measured peak is within the budget with no slack, and a lower budget never
 * gives a higher estimate. Sizes are small so each model runs in a few seconds, with lengths that
 * chunk sizes rarely divide.
 */
class ModelChunkingTest {
    /**
     * @param budgets       fractions of the unchunked estimated peak, descending, that must compile
     * @param unevenChunks  whether some region at these budgets must have a chunk size that does not divide its extent
     */
    record Case(String name, Function<MemoryScope, Graph> trace, BiFunction<MemoryScope, Long, Tensor> input, double[] budgets, boolean unevenChunks) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Case> models() {
        var tfMat = new TransformerStack.Config(2, 32, 4, 88, 512, TransformerStack.Attention.MATERIALISED);
        var tfFlash = new TransformerStack.Config(2, 32, 4, 128, 512, TransformerStack.Attention.FLASH);
        var evo = new EvoformerPairBlock.Config(1, 40, 16, 4, 8);
        var vit = new VitEncoder.Config(2, 2, 250, 32, 4, false);
        var vitFlash = new VitEncoder.Config(2, 2, 250, 32, 4, true);
        return Stream.of(
                new Case("transformer, materialised", w -> TransformerStack.trace(tfMat, w, 1), (s, seed) -> TransformerStack.input(tfMat, s, seed),
                        new double[] {0.5, 0.2, 0.1, 0.05}, true),
                new Case("transformer, flash", w -> TransformerStack.trace(tfFlash, w, 1), (s, seed) -> TransformerStack.input(tfFlash, s, seed),
                        new double[] {0.5, 0.4}, true),
                new Case("evoformer pair block", w -> EvoformerPairBlock.trace(evo, w, 1), (s, seed) -> EvoformerPairBlock.input(evo, s, seed),
                        new double[] {0.5, 0.2}, true),
                new Case("vit, materialised", w -> VitEncoder.trace(vit, w, 1), (s, seed) -> VitEncoder.input(vit, s, seed),
                        new double[] {0.5, 0.2, 0.1}, true),
                new Case("vit, flash", w -> VitEncoder.trace(vitFlash, w, 1), (s, seed) -> VitEncoder.input(vitFlash, s, seed),
                        new double[] {0.5}, false));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void chunkedEqualsUnchunkedWithinBudgetAtEveryBudget(Case c) {
        try (MemoryScope weights = MemoryScope.detached("weights"); MemoryScope inputs = MemoryScope.detached("inputs")) {
            Graph g = c.trace().apply(weights);
            Tensor x = c.input().apply(inputs, 7L);
            ChunkedProgram plain = AutoChunk.unchunked(g);
            float[] expected;
            try (Execution run = plain.run(x)) {
                expected = run.output(0).toFloatArray();
                assertThat(run.peakBytes()).as("unchunked measured vs estimated").isCloseTo(plain.estimatedPeakBytes(), withinPercentage(10));
            }
            long previousEstimate = plain.estimatedPeakBytes();
            boolean uneven = false;
            for (double fraction : c.budgets()) {
                long budget = (long) (plain.estimatedPeakBytes() * fraction);
                ChunkedProgram p = AutoChunk.compile(g, budget, ChunkTimeModel.NOMINAL);
                String what = c.name() + " at " + fraction + " of the unchunked peak";
                assertThat(p.regions()).as(what).isNotEmpty();
                assertThat(p.estimatedPeakBytes()).as(what + ": estimate within budget").isLessThanOrEqualTo(budget);
                assertThat(p.estimatedPeakBytes()).as(what + ": a lower budget never gives a higher estimate").isLessThanOrEqualTo(previousEstimate);
                previousEstimate = p.estimatedPeakBytes();
                try (Execution run = p.run(x)) {
                    Close.assertAllClose(what, expected, run.output(0).toFloatArray(), 1e-5, 1e-5);
                    assertThat(run.peakBytes()).as(what + ": measured vs estimated").isCloseTo(p.estimatedPeakBytes(), withinPercentage(10));
                    assertThat(run.peakBytes()).as(what + ": measured within budget, no slack").isLessThanOrEqualTo(budget);
                }
                for (ChunkRegion r : p.regions()) uneven |= r.extent() % r.chunkSize() != 0;
            }
            if (c.unevenChunks()) assertThat(uneven).as(c.name() + ": some chunk size does not divide its extent").isTrue();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void anUnreachableBudgetSaysSo(Case c) {
        try (MemoryScope weights = MemoryScope.detached("weights")) {
            Graph g = c.trace().apply(weights);
            long unchunked = AutoChunk.unchunked(g).estimatedPeakBytes();
            assertThatThrownBy(() -> AutoChunk.compile(g, unchunked / 100, ChunkTimeModel.NOMINAL))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("no chunk plan fits a budget of")
                    .hasMessageContaining("smallest budget the search reached");
        }
    }
}
