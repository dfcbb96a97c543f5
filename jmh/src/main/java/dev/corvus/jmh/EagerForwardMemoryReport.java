package dev.corvus.jmh;

import dev.corvus.model.LlamaConfig;
import dev.corvus.model.LlamaModel;
import dev.corvus.model.LlamaWeights;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.MemoryStats;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.RopeStyle;
import dev.corvus.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The activation peak and time of {@link LlamaModel#forward}'s eager prefill on a Llama-3.2-1B-shaped
 * model (dim 2048, hidden 8192, 16 layers, GQA 32/8, vocabulary 128,256, the classifier tied) with
 * random Q8_0 weights built in memory (no GGUF needed: only memory, time and the logits' bits are
 * compared, so a run on two commits shows what a change did). The KV cache and the weights are
 * not activations: the peak is the process-wide off-heap peak minus what was live before the call.
 * The logits' hash is over their bits, so two builds that print the same hash returned equal logits.
 *
 * <pre>
 * java --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp jmh/target/benchmarks.jar \
 *     dev.corvus.jmh.EagerForwardMemoryReport [N=512] [layers=16] [repetitions=2]
 * </pre>
 */
public final class EagerForwardMemoryReport {
    private static final int DIM = 2048, HIDDEN = 8192, HEADS = 32, KV_HEADS = 8, VOCAB = 128_256;

    private EagerForwardMemoryReport() {}

    public static void main(String[] args) {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 512;
        int layers = args.length > 1 ? Integer.parseInt(args[1]) : 16;
        int repetitions = args.length > 2 ? Integer.parseInt(args[2]) : 2;
        LlamaConfig config = new LlamaConfig(DIM, HIDDEN, layers, HEADS, KV_HEADS, VOCAB, Math.max(n, 8192), 500000f, 1e-5f,
                RopeStyle.INTERLEAVED, true);
        try (MemoryScope weightsScope = MemoryScope.open("weights")) {
            long t0 = System.nanoTime();
            LlamaModel model = new LlamaModel(config, randomQ8(config, 20261203L));
            System.out.printf(Locale.ROOT, "~1B shape, %d layers, Q8_0 random weights built in %.1f s; N=%d%n", layers,
                    (System.nanoTime() - t0) / 1e9, n);
            int[] tokens = new int[n];
            for (int i = 0; i < n; i++) tokens[i] = 1 + (int) ((i * 7919L) % (VOCAB - 1));
            for (int rep = 0; rep < repetitions; rep++) {
                try (MemoryScope call = MemoryScope.open("call"); LlamaModel.KvCache cache = model.newCache(n)) {
                    cache.ensureCapacity(n);
                    long live = MemoryStats.liveBytes();
                    MemoryStats.resetPeak();
                    long t1 = System.nanoTime();
                    Tensor logits = model.forward(tokens, 0, cache);
                    double seconds = (System.nanoTime() - t1) / 1e9;
                    long peak = MemoryStats.peakBytes() - live;
                    float[] values = logits.toFloatArray();
                    int[] bits = new int[values.length];
                    for (int i = 0; i < values.length; i++) bits[i] = Float.floatToRawIntBits(values[i]);
                    System.out.printf(Locale.ROOT, "rep %d: eager prefill %.2f s, activation peak %.1f MiB, logits bits hash %08x%n", rep,
                            seconds, peak / 1048576.0, Arrays.hashCode(bits));
                }
            }
        }
    }

    /** Matrices ~ N(0, 0.02²) quantised to Q8_0 one at a time (the F32 original freed at once), norms 1. */
    private static LlamaWeights randomQ8(LlamaConfig c, long seed) {
        Tensor embedding = matrix(seed, c.vocabSize(), c.dim());
        List<LlamaWeights.Layer> layers = new ArrayList<>();
        for (int l = 0; l < c.layers(); l++) {
            long s = seed + 100L * (l + 1);
            layers.add(new LlamaWeights.Layer(ones(c.dim()), matrix(s + 1, c.qDim(), c.dim()), matrix(s + 2, c.kvDim(), c.dim()),
                    matrix(s + 3, c.kvDim(), c.dim()), matrix(s + 4, c.dim(), c.qDim()), ones(c.dim()), matrix(s + 6, c.hiddenDim(), c.dim()),
                    matrix(s + 7, c.dim(), c.hiddenDim()), matrix(s + 8, c.hiddenDim(), c.dim())));
        }
        return new LlamaWeights(embedding, layers, ones(c.dim()), embedding);
    }

    private static Tensor matrix(long seed, int out, int in) {
        try (MemoryScope f32 = MemoryScope.detached("f32 original")) {
            return Ops.convert(Tensor.randn(f32, seed, 0.02f, out, in), DType.Q8_0);
        }
    }

    private static Tensor ones(int n) {
        float[] v = new float[n];
        Arrays.fill(v, 1f);
        return Tensor.of(MemoryScope.require("weights"), v, n);
    }
}
