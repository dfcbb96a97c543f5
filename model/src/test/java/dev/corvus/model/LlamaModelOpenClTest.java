package dev.corvus.model;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.corvus.opencl.OpenClDevices;
import dev.corvus.tensor.Backends;
import dev.corvus.tensor.Device;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.testing.Close;
import java.util.Optional;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The model runs on an OpenCL device (PoCL in CI) and gives the CPU's logits, prefill and decode. */
class LlamaModelOpenClTest {
    @ParameterizedTest(name = "heads {0}/{1}, quantized {2}")
    @CsvSource({"4,4,false", "4,2,false", "4,1,true"})
    void logitsOnOpenClEqualTheCpu(int heads, int kvHeads, boolean quantized) {
        Optional<String> why = OpenClDevices.unavailableReason();
        assumeTrue(why.isEmpty(), () -> "no OpenCL: " + why.orElse(""));
        try (MemoryScope scope = MemoryScope.open("test")) {
            LlamaConfig config = TinyLlama.config(heads, kvHeads);
            LlamaWeights cpuWeights = TinyLlama.randomWeights(scope, config, 11);
            if (quantized) cpuWeights = TinyLlama.quantized(cpuWeights);
            Device device = Backends.device("opencl");
            // The device computes in float from the stored weights; the CPU's integer GEMV rounds
            // activations to 8 bits for quantised weights, so the reference is the CPU on the
            // weights dequantised (the same numbers, computed exactly).
            LlamaModel cpu = new LlamaModel(config, quantized ? cpuWeights.mapMatrices(Ops::dequantize) : cpuWeights);
            LlamaModel gpu = new LlamaModel(config, cpuWeights.to(device, scope));
            int[] prompt = {1, 5, 9, 2, 7};
            try (LlamaModel.KvCache cpuCache = cpu.newCache(16); LlamaModel.KvCache gpuCache = gpu.newCache(16)) {
                Tensor expected = cpu.forward(prompt, 0, cpuCache), actual = gpu.forward(prompt, 0, gpuCache);
                Close.assertAllClose("prefill logits", expected.toFloatArray(), actual.toFloatArray(), 1e-4, 1e-3);
                for (int step = 0; step < 4; step++) {
                    int[] next = {(3 + 5 * step) % config.vocabSize()};
                    expected = cpu.forward(next, prompt.length + step, cpuCache);
                    actual = gpu.forward(next, prompt.length + step, gpuCache);
                    Close.assertAllClose("decode logits at step " + step, expected.toFloatArray(), actual.toFloatArray(), 1e-4, 1e-3);
                }
            }
        }
    }

    /** A prefill long enough that the eager pass frees each layer's activations (LlamaModel.FREE_PER_LAYER_BYTES), on the device. */
    @org.junit.jupiter.api.Test
    void aPrefillFreedLayerByLayerOnTheDeviceEqualsTheCpu() {
        Optional<String> why = OpenClDevices.unavailableReason();
        assumeTrue(why.isEmpty(), () -> "no OpenCL: " + why.orElse(""));
        int hidden = 2048, rows = (int) (LlamaModel.FREE_PER_LAYER_BYTES / (4 * hidden)) + 5;
        LlamaConfig config = new LlamaConfig(64, hidden, 3, 4, 2, 50, rows, 10000f, 1e-5f, dev.corvus.tensor.RopeStyle.INTERLEAVED, true);
        try (MemoryScope scope = MemoryScope.open("test")) {
            LlamaWeights cpuWeights = TinyLlama.randomWeights(scope, config, 12);
            LlamaModel cpu = new LlamaModel(config, cpuWeights), gpu = new LlamaModel(config, cpuWeights.to(Backends.device("opencl"), scope));
            int[] prompt = new int[rows];
            for (int i = 0; i < rows; i++) prompt[i] = (i * 13 + 1) % config.vocabSize();
            try (LlamaModel.KvCache cpuCache = cpu.newCache(rows); LlamaModel.KvCache gpuCache = gpu.newCache(rows)) {
                Close.assertAllClose("prefill logits", cpu.forward(prompt, 0, cpuCache).toFloatArray(), gpu.forward(prompt, 0, gpuCache).toFloatArray(),
                        1e-4, 1e-3);
            }
        }
    }
}
