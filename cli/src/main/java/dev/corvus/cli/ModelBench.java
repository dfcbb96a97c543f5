package dev.corvus.cli;

import dev.corvus.model.LlamaConfig;
import dev.corvus.model.LlamaModel;
import dev.corvus.model.LlamaWeights;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.Set;
import java.util.function.Consumer;

/**
 * What {@code corvus bench --model} measures, mirroring llama.cpp's llama-bench so the two tables
 * compare line for line: {@code ppP} is one prompt of P random tokens from an empty cache (in
 * batches of at most {@link #UBATCH} tokens, llama-bench's default n_ubatch), {@code tgN} is N
 * single-token decodes, each fed a random token (no sampling, as llama-bench); with a depth D both
 * start from a cache already holding D positions (filled once per test, not timed, as
 * llama-bench's cached depth state). t/s is tokens / seconds of each repetition, mean ± sample
 * standard deviation over the repetitions.
 *
 * <p>One difference is deliberate: the warm-up runs the whole test once, where llama-bench warms
 * tg with a single token, because a JVM's first passes run interpreted and profiled until the JIT
 * has compiled the kernels, which no single token pays for. The KV cache is F32 (llama-bench's
 * default is F16) and sized for exactly depth + prompt + generated positions, as llama-bench's
 * n_ctx, so it never grows inside a timed run.
 */
final class ModelBench {
    /** Tokens per forward call in a prompt run: llama-bench's default n_ubatch. */
    static final int UBATCH = 512;

    /** One line of the table: a test's per-repetition tokens per second. */
    record Row(String model, long sizeBytes, long params, String backend, int threads, String test, double[] tokensPerSecond) {
        double mean() {
            double s = 0;
            for (double v : tokensPerSecond) s += v;
            return tokensPerSecond.length == 0 ? 0 : s / tokensPerSecond.length;
        }

        /** Sample standard deviation (n - 1), 0 for a single repetition, as llama-bench. */
        double sd() {
            int n = tokensPerSecond.length;
            if (n <= 1) return 0;
            double m = mean(), s = 0;
            for (double v : tokensPerSecond) s += (v - m) * (v - m);
            return Math.sqrt(s / (n - 1));
        }
    }

    /** A test: {@code prompt} tokens or {@code gen} decodes (one of them 0) after {@code depth} cached positions. */
    record Test(int prompt, int gen, int depth) {
        String name() {
            String base = gen == 0 ? "pp" + prompt : "tg" + gen;
            return depth > 0 ? base + " @ d" + depth : base;
        }

        int tokens() {
            return prompt + gen;
        }
    }

    private final LlamaModel model;
    private final boolean addBos;
    private final int bos;
    private final Random random;

    /** @param bos the BOS id when the vocabulary wants one first (llama-bench starts every run with it), else -1 */
    ModelBench(LlamaModel model, int bos, long seed) {
        this.model = model;
        this.addBos = bos >= 0;
        this.bos = bos;
        this.random = new Random(seed);
    }

    /** llama-bench's test list for one thread count: per depth, every prompt size, then every generation length (0s skipped). */
    static List<Test> tests(List<Integer> prompts, List<Integer> gens, List<Integer> depths) {
        List<Test> tests = new ArrayList<>();
        for (int d : depths) {
            for (int p : prompts) if (p > 0) tests.add(new Test(p, 0, d));
            for (int n : gens) if (n > 0) tests.add(new Test(0, n, d));
        }
        return tests;
    }

    /**
     * Tokens per second of each of {@code repetitions} runs of {@code test}, after {@code warmups}
     * untimed ones, repeated (when warmups > 0) until {@code warmupSeconds} have passed: a few runs
     * do not get the kernels through C2 (three pp64 warm-ups of stories15M measured 845 tok/s where
     * JMH's steady state gives about 2,600).
     */
    double[] measure(Test test, int repetitions, int warmups, double warmupSeconds, Consumer<String> progress) {
        int positions = test.depth() + test.prompt() + test.gen();
        if (positions > model.config().seqLen()) {
            throw new IllegalArgumentException(test.name() + " needs " + positions + " positions, more than the model's context of "
                    + model.config().seqLen());
        }
        try (LlamaModel.KvCache cache = model.newCache(positions, positions)) {
            if (test.depth() > 0) {
                progress.accept(test.name() + ": filling the cache to depth " + test.depth());
                prompt(cache, 0, test.depth());
            }
            long until = System.nanoTime() + (long) (warmupSeconds * 1e9);
            for (int i = 0; i < warmups || (warmups > 0 && System.nanoTime() < until); i++) {
                progress.accept(test.name() + ": warm-up " + (i + 1));
                run(test, cache);
            }
            double[] tps = new double[repetitions];
            for (int i = 0; i < repetitions; i++) {
                progress.accept(test.name() + ": run " + (i + 1) + "/" + repetitions);
                long nanos = run(test, cache);
                tps[i] = test.tokens() / (nanos / 1e9);
            }
            return tps;
        }
    }

    /** One timed run of the test from the depth on; the cache is cut back to the depth first. */
    private long run(Test test, LlamaModel.KvCache cache) {
        cache.truncate(test.depth());
        long t0 = System.nanoTime();
        if (test.prompt() > 0) prompt(cache, test.depth(), test.prompt());
        if (test.gen() > 0) generate(cache, test.depth(), test.gen());
        return System.nanoTime() - t0;
    }

    /** {@code count} random tokens from {@code start} in forward calls of at most {@link #UBATCH} (BOS first from an empty cache). */
    private void prompt(LlamaModel.KvCache cache, int start, int count) {
        for (int done = 0; done < count; ) {
            int[] batch = new int[Math.min(UBATCH, count - done)];
            for (int i = 0; i < batch.length; i++) batch[i] = randomToken();
            if (start + done == 0 && addBos) batch[0] = bos;
            try (MemoryScope s = MemoryScope.open("bench.prompt")) {
                model.forward(batch, start + done, cache);
            }
            done += batch.length;
        }
    }

    /** {@code count} single-token forward calls from {@code start}; the first token is BOS when the vocabulary wants one, as llama-bench's. */
    private void generate(LlamaModel.KvCache cache, int start, int count) {
        int token = addBos ? bos : randomToken();
        for (int i = 0; i < count; i++) {
            try (MemoryScope s = MemoryScope.open("bench.decode")) {
                model.forward(new int[] {token}, start + i, cache);
            }
            token = randomToken();
        }
    }

    private int randomToken() {
        return random.nextInt(model.config().vocabSize());
    }

    // ---------------------------------------------------------------- what the table says about the model

    /** Bytes of every distinct weight tensor (a classifier shared with the embedding counted once), as llama_model_size. */
    static long sizeBytes(LlamaWeights w) {
        long s = 0;
        for (Tensor t : distinctTensors(w)) s += t.dtype().byteSize(t.numel());
        return s;
    }

    /** Elements of every distinct weight tensor, as llama_model_n_params. */
    static long params(LlamaWeights w) {
        long s = 0;
        for (Tensor t : distinctTensors(w)) s += t.numel();
        return s;
    }

    private static Set<Tensor> distinctTensors(LlamaWeights w) {
        Set<Tensor> all = Collections.newSetFromMap(new IdentityHashMap<>());
        List<Tensor> list = new ArrayList<>(List.of(w.tokenEmbedding(), w.finalNorm(), w.classifier()));
        list.add(w.classifierBias());
        list.add(w.ropeFactors());
        list.add(w.ropeFactorsLong());
        for (LlamaWeights.Layer L : w.layers()) {
            list.addAll(List.of(L.attentionNorm(), L.wq(), L.wk(), L.wv(), L.wo(), L.ffnNorm(), L.w1(), L.w2(), L.w3()));
            for (Tensor t : new Tensor[] {L.bq(), L.bk(), L.bv(), L.qNorm(), L.kNorm(), L.bo(), L.attentionPostNorm(), L.b1(), L.b2(), L.b3(),
                L.ffnPostNorm()}) list.add(t);
        }
        for (Tensor t : list) if (t != null) all.add(t);
        return all;
    }

    /** "llama 15M F32": the architecture, the parameter count rounded as model cards write it, the weight types. */
    static String describe(LlamaConfig config, LlamaWeights w) {
        long p = params(w);
        String size = p >= 1_000_000_000L ? String.format(Locale.ROOT, "%.1fB", p / 1e9).replace(".0B", "B")
                : String.format(Locale.ROOT, "%dM", Math.round(p / 1e6));
        return config.architecture().ggufName() + " " + size + " " + Cli.weightTypes(w);
    }

    // ---------------------------------------------------------------- llama-bench's markdown table

    /** The header and separator lines: llama-bench's markdown columns and widths (negative: left-aligned). */
    static void printHeader(PrintWriter out) {
        out.println(line(new String[] {"model", "size", "params", "backend", "threads", "test", "t/s"}));
        StringBuilder sb = new StringBuilder("|");
        for (int w : WIDTHS) sb.append(' ').append("-".repeat(Math.abs(w) - 1)).append(w > 0 ? ':' : '-').append(" |");
        out.println(sb);
    }

    static void printRow(PrintWriter out, Row r) {
        out.println(line(new String[] {r.model(), size(r.sizeBytes()), params(r.params()), r.backend(), Integer.toString(r.threads()), r.test(),
            String.format(Locale.ROOT, "%.2f ± %.2f", r.mean(), r.sd())}));
        out.flush();
    }

    private static final int[] WIDTHS = {-30, 10, 10, -10, 7, 15, 20};

    private static String line(String[] cells) {
        StringBuilder sb = new StringBuilder("|");
        for (int i = 0; i < cells.length; i++) {
            int w = WIDTHS[i];
            String c = cells[i];
            String pad = " ".repeat(Math.max(0, Math.abs(w) - c.length()));
            sb.append(' ').append(w < 0 ? c + pad : pad + c).append(" |");
        }
        return sb.toString();
    }

    static String size(long bytes) {
        return bytes < 1024L * 1024 * 1024 ? String.format(Locale.ROOT, "%.2f MiB", bytes / 1024.0 / 1024.0)
                : String.format(Locale.ROOT, "%.2f GiB", bytes / 1024.0 / 1024.0 / 1024.0);
    }

    static String params(long n) {
        return n < 1_000_000_000L ? String.format(Locale.ROOT, "%.2f M", n / 1e6) : String.format(Locale.ROOT, "%.2f B", n / 1e9);
    }
}
