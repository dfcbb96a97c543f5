package dev.corvus.hetero;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.model.Checkpoint;
import dev.corvus.model.Checkpoints;
import dev.corvus.model.Generator;
import dev.corvus.model.LlamaModel;
import dev.corvus.model.LlamaWeights;
import dev.corvus.model.ModelStore;
import dev.corvus.model.Sampler;
import dev.corvus.model.Tokenizer;
import dev.corvus.tensor.MemoryScope;
import java.util.Arrays;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * End to end on TinyStories-15M (skipped when it is not cached): greedy decoding with a HeteGen
 * plan, some layers resident on the OpenCL device and the rest split, gives the CPU-only tokens.
 */
class HeteroGenerationTest {
    private static final int STEPS = 40;

    @Test
    void greedyTokensWithHeteroEqualTheCpuOnlyRun() throws Exception {
        Profiles.assumeOpenCl();
        ModelStore store = ModelStore.defaults();
        Assumptions.assumeTrue(store.hasStories15M(), "TinyStories-15M is not in " + store.cacheDir() + " (the model tests fetch it)");
        ModelStore.Stories15M paths = store.stories15MPaths();
        try (Checkpoint ckpt = Checkpoints.load(paths.checkpoint());
             MemoryScope scope = MemoryScope.open("test");
             DeviceSide device = DeviceSide.open("opencl")) {
            Tokenizer tok = Tokenizer.loadLlama2c(paths.tokenizer(), ckpt.config().vocabSize());
            LlamaWeights weights = ckpt.weights();
            int[] prompt = tok.encode("Once upon a time", true, false);
            int[] expected = generate(new LlamaModel(ckpt.config(), weights), prompt);

            // a machine where the split lands mid-layer (CPU and bus alike) and residency pays: 4 MiB resident, the rest split
            DeviceProfile profile = Profiles.synthetic(10, 100, 10, 0);
            PlacementPlan plan = new ResidentPlanner(new SplitLatencyModel(profile)).plan(HeteroLinear.shapes(weights), 4L << 20);
            assertThat(plan.entries()).anyMatch(PlacementPlan.Entry::resident);
            assertThat(plan.entries()).anyMatch(e -> !e.resident() && e.decode().alpha() > 0 && e.decode().alpha() < 1);
            try (HeteroLinear hetero = HeteroLinear.build(plan, weights, device, new SplitLinear.Options(2, 64, SplitLinear.Delay.NONE))) {
                int[] actual = generate(new LlamaModel(ckpt.config(), weights, hetero), prompt);
                assertThat(actual).as("hetero tokens %s vs CPU %s", Arrays.toString(actual), Arrays.toString(expected)).isEqualTo(expected);
                long chunks = hetero.splitLayers().values().stream().mapToLong(s -> s.stats().chunks()).sum();
                assertThat(chunks).as("chunks streamed to the device").isPositive();
                assertThat(hetero.splitLayers().values()).allMatch(s -> s.stats().reusesBeforeConsumerDone() == 0);
            }
        }
    }

    private static int[] generate(LlamaModel model, int[] prompt) {
        Generator g = new Generator(model, Sampler.greedy(), Generator.LLAMA2C_STOP_TOKENS);
        return g.generate(prompt, STEPS, t -> {}).tokens();
    }
}
