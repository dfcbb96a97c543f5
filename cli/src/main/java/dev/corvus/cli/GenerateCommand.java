package dev.corvus.cli;

import dev.corvus.model.Checkpoint;
import dev.corvus.model.Generator;
import dev.corvus.model.LlamaModel;
import dev.corvus.model.LlamaWeights;
import dev.corvus.model.Sampler;
import dev.corvus.model.Tokenizer;
import dev.corvus.tensor.Backends;
import dev.corvus.tensor.Device;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Parallel;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code corvus generate [PROMPT]}: streams a Llama-family model's continuation of the prompt to
 * stdout, token by token, and ends with one line on stderr: prefill and decode tokens per second.
 */
@Command(name = "generate", sortOptions = false,
        description = {"Generate text with a Llama-family model (llama2.c checkpoint or GGUF), streaming tokens to stdout.",
            "Greedy by default (deterministic): llama2.c samples at temperature 1.0, top-p 0.9; pass --temperature 1 for that."})
final class GenerateCommand implements Callable<Integer> {
    @Parameters(index = "0", arity = "0..1", paramLabel = "PROMPT", description = "Text to continue (default: none, start from BOS).")
    String prompt = "";

    @Option(names = "--model", paramLabel = "PATH", description = "llama2.c checkpoint (.bin) or GGUF file (default: TinyStories 15M, fetched into ~/.cache/corvus).")
    Path model;

    @Option(names = "--tokenizer", paramLabel = "PATH", description = "llama2.c tokenizer.bin (default: the GGUF's own, or tokenizer.bin beside the checkpoint).")
    Path tokenizer;

    @Option(names = "--steps", description = "Most tokens to generate (default ${DEFAULT-VALUE}); stops earlier at EOS or the model's context.", defaultValue = "256")
    int steps;

    @Option(names = "--temperature", description = "0 = greedy (default ${DEFAULT-VALUE}); higher is more random.", defaultValue = "0")
    float temperature;

    @Option(names = "--top-p", description = "Nucleus sampling mass when sampling (default ${DEFAULT-VALUE}; 1 = off).", defaultValue = "0.9")
    float topP;

    @Option(names = "--seed", description = "Random seed for sampling (default: from the clock, printed on stderr).")
    Long seed;

    @Option(names = "--dtype", paramLabel = "f32|q8_0", description = "Convert the weight matrices to this type after loading (default: as stored).")
    String dtype;

    @Option(names = "--backend", paramLabel = "scalar|vector", description = "CPU backend (same as -Dcorvus.backend; default: the best available).")
    String backend;

    @Option(names = "--device", paramLabel = "cpu|opencl|opencl:P:D",
            description = "Where the model runs (same as -Dcorvus.device; default: cpu). opencl picks the first GPU, else the first OpenCL device.")
    String device;

    @Option(names = "--quiet", description = "Print only the generated text (no stats line).")
    boolean quiet;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (backend != null) Cli.forceBackend(backend);
        Path path = model != null ? model : Cli.defaultModel();
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        try (Checkpoint ckpt = Cli.load(path, tokenizer); MemoryScope converted = MemoryScope.detached("converted weights")) {
            Tokenizer tok = ckpt.tokenizer().orElseThrow(() -> new IllegalArgumentException(
                    "no tokenizer for " + path + ": pass --tokenizer PATH (a llama2.c tokenizer.bin)"));
            LlamaWeights weights = dtype == null ? ckpt.weights() : Cli.convertMatrices(ckpt.weights(), Cli.parseDType(dtype), converted);
            Device target = Backends.device(device != null ? device : System.getProperty("corvus.device", "cpu"));
            if (!target.equals(Device.CPU)) weights = weights.to(target, converted);
            LlamaModel llama = new LlamaModel(ckpt.config(), weights);
            long s = seed != null ? seed : System.nanoTime();
            Sampler sampler = Sampler.of(temperature, topP, s);
            int[] promptTokens = tok.encode(prompt, true, false);

            // the prompt first, then each new token as soon as it is chosen
            Tokenizer.StreamDecoder text = tok.streamDecoder();
            for (int t : promptTokens) out.print(text.next(t));
            out.flush();
            Generator generator = new Generator(llama, sampler, tok.bosId(), tok.eosId());
            Generator.Result r = generator.generate(promptTokens, steps, t -> {
                out.print(text.next(t));
                out.flush();
            });
            out.println(text.flush());
            out.flush();
            if (!quiet) {
                err.println(String.format(Locale.ROOT, "corvus: %s, %s weights, %s, %d threads, %s%s",
                        path.getFileName(), Cli.weightTypes(weights),
                        target.equals(Device.CPU) ? Backends.cpu().name() + " backend" : "device " + target, Parallel.parallelism(),
                        sampler, sampler.isGreedy() ? "" : " (seed " + s + ")"));
                err.println("corvus: " + r.stats().summary());
                err.flush();
            }
        }
        return 0;
    }
}
