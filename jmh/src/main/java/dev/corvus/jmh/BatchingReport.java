package dev.corvus.jmh;

import dev.corvus.engine.Completion;
import dev.corvus.engine.Engine;
import dev.corvus.engine.EngineConfig;
import dev.corvus.engine.Generation;
import dev.corvus.engine.GenerationListener;
import dev.corvus.engine.GenerationRequest;
import dev.corvus.engine.SamplingOptions;
import dev.corvus.model.Checkpoint;
import dev.corvus.model.Checkpoints;
import dev.corvus.model.Generator;
import dev.corvus.model.LlamaModel;
import dev.corvus.model.ModelStore;
import dev.corvus.model.Sampler;
import dev.corvus.model.Tokenizer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * Aggregate generation rate of the continuous-batching {@link Engine} on TinyStories-15M
 * (llama2.c checkpoint from the {@link ModelStore} cache), in-process: N greedy streams with
 * different prompts submitted at once, {@code maxBatch} N, generated tokens of all of them over
 * the wall time from the first submission to the last completion (prefill included);
 * {@code checkpoint=PATH} runs another file instead, such as a Q8_0 GGUF from {@code corvus
 * convert} (which carries its tokenizer). Baseline in
 * the same run: one stream through the library's own {@link Generator} loop, no engine. Each
 * case runs {@code warmup} times untimed, then {@code runs} times; the best run is reported.
 *
 * <pre>
 * java --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp jmh/target/benchmarks.jar \
 *     dev.corvus.jmh.BatchingReport [maxTokens=128] [warmup=2] [runs=3] [streams=1,4,8,16] [checkpoint=PATH]
 * </pre>
 */
public final class BatchingReport {
    private static final String[] PROMPTS = {"Once upon a time", "The little dog", "One day", "Lily and Ben went to the park",
        "Tom had a red ball", "The sun was hot", "A cat sat on the mat", "There was a big tree", "Sam wanted a cookie",
        "The bird flew high", "Mia found a shiny stone", "It was a rainy day", "The boy and his mom", "Anna liked to paint",
        "A little fish swam", "The old man smiled"};

    private BatchingReport() {}

    public static void main(String[] args) throws Exception {
        int maxTokens = 128, warmup = 2, runs = 3;
        int[] streams = {1, 4, 8, 16};
        java.nio.file.Path file = null;
        for (String a : args) {
            String[] kv = a.split("=", 2);
            switch (kv[0]) {
                case "maxTokens" -> maxTokens = Integer.parseInt(kv[1]);
                case "warmup" -> warmup = Integer.parseInt(kv[1]);
                case "runs" -> runs = Integer.parseInt(kv[1]);
                case "streams" -> streams = java.util.Arrays.stream(kv[1].split(",")).mapToInt(Integer::parseInt).toArray();
                case "checkpoint" -> file = java.nio.file.Path.of(kv[1]);
                default -> throw new IllegalArgumentException("unknown option " + a + " (maxTokens=, warmup=, runs=, streams=, checkpoint=)");
            }
        }
        Checkpoint loaded;
        if (file == null) {
            ModelStore.Stories15M files = ModelStore.defaults().stories15M();
            loaded = Checkpoints.load(files.checkpoint()).withTokenizer(Tokenizer.loadLlama2c(files.tokenizer()));
        } else {
            loaded = Checkpoints.load(file);
        }
        try (Checkpoint ckpt = loaded) {
            LlamaModel model = new LlamaModel(ckpt.config(), ckpt.weights());
            Tokenizer tok = ckpt.tokenizer().orElseThrow();
            System.out.printf(Locale.ROOT, "%s, greedy, up to %d tokens per stream, best of %d runs after %d warm-up%n",
                    file == null ? "stories15M" : file.getFileName(), maxTokens, runs,
                    warmup);
            System.out.println("| case | streams | generated tokens | wall s | aggregate tok/s | per stream tok/s |");
            System.out.println("|---|---|---|---|---|---|");
            int[] prompt = tok.encode(PROMPTS[0], true, false);
            Generator generator = new Generator(model, Sampler.greedy(), tok.endOfGenerationIds());
            double best = 0;
            long bestTokens = 0, bestNanos = 0;
            for (int r = 0; r < warmup + runs; r++) {
                long t0 = System.nanoTime();
                int n = generator.generate(prompt, maxTokens, t -> {}).tokens().length;
                long dt = System.nanoTime() - t0;
                if (r >= warmup && n / (dt / 1e9) > best) {
                    best = n / (dt / 1e9);
                    bestTokens = n;
                    bestNanos = dt;
                }
            }
            row("Generator (baseline)", 1, bestTokens, bestNanos);
            for (int n : streams) {
                best = 0;
                for (int r = 0; r < warmup + runs; r++) {
                    long[] result = runEngine(model, tok, n, maxTokens);
                    double rate = result[0] / (result[1] / 1e9);
                    if (r >= warmup && rate > best) {
                        best = rate;
                        bestTokens = result[0];
                        bestNanos = result[1];
                    }
                }
                row("Engine", n, bestTokens, bestNanos);
            }
        }
    }

    /** {generated tokens, wall nanos} of {@code n} streams through one engine. */
    private static long[] runEngine(LlamaModel model, Tokenizer tok, int n, int maxTokens) throws Exception {
        try (Engine e = Engine.start(model, tok, new EngineConfig(n, n, 0, 256, Duration.ZERO))) {
            List<Generation> gens = new ArrayList<>();
            long t0 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                int[] prompt = tok.encode(PROMPTS[i % PROMPTS.length], true, false);
                gens.add(e.submit(new GenerationRequest(prompt, maxTokens, SamplingOptions.greedy()), new GenerationListener() {}));
            }
            long tokens = 0;
            for (Generation g : gens) {
                Completion c = g.result().get(10, TimeUnit.MINUTES);
                tokens += c.completionTokens();
            }
            return new long[] {tokens, System.nanoTime() - t0};
        }
    }

    private static void row(String what, int streams, long tokens, long nanos) {
        double seconds = nanos / 1e9;
        System.out.printf(Locale.ROOT, "| %s | %d | %d | %.2f | %.1f | %.1f |%n", what, streams, tokens, seconds, tokens / seconds,
                tokens / seconds / streams);
    }
}
