package dev.corvus.cli;

import dev.corvus.chat.ChatMessage;
import dev.corvus.chat.ChatFormatter;
import dev.corvus.chat.ChatTemplate;
import dev.corvus.chat.GgufChat;
import dev.corvus.hetero.DeviceSide;
import dev.corvus.hetero.HeteroLinear;
import dev.corvus.hetero.PlacementPlan;
import dev.corvus.hetero.SplitLinear;
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
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
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

    @Option(names = "--steps", description = "Most tokens to generate (default ${DEFAULT-VALUE}); stops earlier at EOS or when the context is full.", defaultValue = "256")
    int steps;

    @Option(names = "--ctx", paramLabel = "N", description = "Context limit in tokens, prompt included (default: the model's own context)."
            + " The KV cache grows with use up to it.")
    Integer ctx;

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

    @Option(names = "--hetero", description = "HeteGen: weights stay on the host; each matrix is split between the CPU and the OpenCL device"
            + " (--device, default opencl) as the measured plan says (see corvus plan), the best ones kept resident within --device-memory.")
    boolean hetero;

    @Option(names = "--device-memory", paramLabel = "BYTES", description = "With --hetero: device memory for resident weights, e.g. 64M (default ${DEFAULT-VALUE}).",
            defaultValue = "0")
    String deviceMemory;

    @Option(names = "--split-ratio", paramLabel = "ALPHA",
            description = "With --hetero: force the CPU's share of every split layer's rows (0 to 1) instead of the solver's α*.")
    Double splitRatio;

    @Option(names = "--memory-budget", paramLabel = "BYTES",
            description = "Hold the prompt's prefill within this much activation memory, e.g. 512M: AutoChunk cuts it into chunks"
                    + " when the whole prompt at once would need more (CPU only; the KV cache and weights are not counted).")
    String memoryBudget;

    @Option(names = "--quiet", description = "Print only the generated text (no stats line).")
    boolean quiet;

    @Option(names = "--chat", paramLabel = "MESSAGE",
            description = "Chat: MESSAGE is the user's turn, formatted with the model's chat template (GGUF tokenizer.chat_template);"
                    + " prints the assistant's reply. Instead of PROMPT.")
    String chat;

    @Option(names = "--system", paramLabel = "TEXT", description = "With --chat: a system message before the user's turn.")
    String system;

    @Option(names = "--chat-template", paramLabel = "FILE", description = "With --chat: this Jinja chat template instead of the model's.")
    Path chatTemplate;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (backend != null) Cli.forceBackend(backend);
        if (!hetero && (HeteroSetup.parseBytes(deviceMemory) != 0 || splitRatio != null)) {
            throw new IllegalArgumentException("--device-memory and --split-ratio apply only with --hetero");
        }
        long budget = memoryBudget == null ? 0 : HeteroSetup.parseBytes("--memory-budget", memoryBudget);
        if (memoryBudget != null && budget <= 0) throw new IllegalArgumentException("--memory-budget must be positive, got " + memoryBudget);
        if (memoryBudget != null && (hetero || (device != null && !device.equals("cpu")))) {
            throw new IllegalArgumentException("--memory-budget runs the prefill through AutoChunk on the CPU; it cannot be combined with --hetero or --device");
        }
        Path path = model != null ? model : Cli.defaultModel();
        checkChatOptions(path);
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        try (Checkpoint ckpt = Cli.load(path, tokenizer); MemoryScope converted = MemoryScope.detached("converted weights")) {
            Tokenizer tok = Cli.tokenizer(ckpt, path);
            LlamaWeights weights = dtype == null ? ckpt.weights() : Cli.convertMatrices(ckpt.weights(), Cli.parseDType(dtype), converted);
            Device target = hetero ? Device.CPU : Backends.device(device != null ? device : System.getProperty("corvus.device", "cpu"));
            if (!target.equals(Device.CPU)) weights = weights.to(target, converted);
            try (Hetero h = hetero ? Hetero.open(device, weights, HeteroSetup.parseBytes(deviceMemory), splitRatio) : null) {
                LlamaModel llama = h == null ? new LlamaModel(ckpt.config(), weights) : new LlamaModel(ckpt.config(), weights, h.linear());
                String where = h != null ? h.describe() : target.equals(Device.CPU) ? Backends.cpu().name() + " backend" : "device " + target;
                generate(llama, tok, weights, path, where, budget, out, err);
                if (h != null && !quiet) {
                    err.printf(Locale.ROOT, "corvus: hetero linear layers per decode step: measured %.3f ms, plan predicted %.3f ms%n",
                            h.linear().measuredDecodeSecondsPerStep() * 1e3, h.plan().predictedDecodeSeconds() * 1e3);
                }
            }
        }
        return 0;
    }

    /** The HeteGen pieces a run holds: the device, its plan, and the resident and split layers. */
    private record Hetero(DeviceSide device, PlacementPlan plan, HeteroLinear linear) implements AutoCloseable {
        static Hetero open(String spec, LlamaWeights weights, long budget, Double splitRatio) throws java.io.IOException {
            DeviceSide device = HeteroSetup.openDevice(spec);
            try {
                PlacementPlan plan = HeteroSetup.plan(HeteroSetup.profile(device), weights, budget, splitRatio);
                return new Hetero(device, plan, HeteroLinear.build(plan, weights, device, SplitLinear.Options.DEFAULT));
            } catch (RuntimeException | java.io.IOException e) {
                device.close();
                throw e;
            }
        }

        String describe() {
            long resident = plan.entries().stream().filter(PlacementPlan.Entry::resident).count();
            long onDevice = plan.entries().stream().filter(e -> !e.resident() && e.decode().usesDevice()).count();
            return String.format(Locale.ROOT, "hetero on %s (%d resident, %d split with the device, %d on the CPU alone)", device.device(), resident,
                    onDevice, plan.entries().size() - resident - onDevice);
        }

        @Override
        public void close() {
            linear.close();
            device.close();
        }
    }

    /** --chat: checked before the weights load, so that a missing template fails fast. */
    private void checkChatOptions(Path path) throws java.io.IOException {
        if (chat == null) {
            if (system != null || chatTemplate != null) throw new IllegalArgumentException("--system and --chat-template apply only with --chat MESSAGE");
            return;
        }
        if (!prompt.isEmpty()) throw new IllegalArgumentException("give either a PROMPT or --chat MESSAGE, not both");
        if (!Files.isRegularFile(path)) throw new IllegalArgumentException("model file " + path + " does not exist");
        if (chatTemplate != null) {
            if (!Files.isRegularFile(chatTemplate)) throw new IllegalArgumentException("--chat-template " + chatTemplate + " does not exist");
        } else if (GgufChat.forModel(path).template().isEmpty()) {
            throw new IllegalArgumentException(path + " has no chat template (no GGUF key " + ChatTemplate.GGUF_KEY
                    + "): pass the text as a plain PROMPT instead of --chat, or give a template with --chat-template FILE");
        }
    }

    /** The chat prompt's tokens: [system,] user as ChatFormatter builds them (template, BOS once, tokenizer). */
    private int[] chatTokens(Path path, Tokenizer tok) throws java.io.IOException {
        List<ChatMessage> messages = system == null ? List.of(ChatMessage.user(chat)) : List.of(ChatMessage.system(system), ChatMessage.user(chat));
        return ChatFormatter.forModel(path, chatTemplate, tok).tokens(messages);
    }

    private void generate(LlamaModel llama, Tokenizer tok, LlamaWeights weights, Path path, String where, long budget, PrintWriter out,
            PrintWriter err)
            throws java.io.IOException {
        long s = seed != null ? seed : System.nanoTime();
        Sampler sampler = Sampler.of(temperature, topP, s);
        // BOS as the vocabulary asks (Qwen's does not); an empty prompt still needs one token to start from
        int[] promptTokens = chat != null ? chatTokens(path, tok) : tok.encode(prompt, tok.addBos() || prompt.isEmpty(), false);

        // the prompt first (not in a chat: there only the reply), then each new token as soon as it is chosen
        Tokenizer.StreamDecoder text = tok.streamDecoder();
        if (chat == null) for (int t : promptTokens) out.print(text.next(t));
        Cli.flush(out);
        if (ctx != null && ctx <= 0) throw new IllegalArgumentException("--ctx must be positive, got " + ctx);
        Generator generator = new Generator(llama, sampler, tok.endOfGenerationIds());
        if (ctx != null) generator = generator.withContext(ctx);
        if (budget > 0) {
            generator = generator.withMemoryBudget(budget, prefill -> {
                if (quiet) return;
                err.printf(Locale.ROOT, "corvus: prefill of %d tokens chunked to fit --memory-budget %s: measured peak %.2f MiB; %s%n",
                        promptTokens.length, memoryBudget, prefill.measuredPeakBytes() / 1048576.0, prefill.plan().lines().findFirst().orElse(""));
                err.flush();
            });
        }
        // a closed pipe or a full disk stops the decoding at the next token (exit 1), not at --steps
        Generator.Result r;
        try {
            r = generator.generate(promptTokens, steps, t -> {
                out.print(text.next(t));
                Cli.flush(out);
            });
        } catch (LlamaModel.BudgetTooSmallException e) {
            // no cause: the report names the innermost cause, and this message is the one to show
            throw new IllegalArgumentException("--memory-budget " + memoryBudget + ": " + e.getMessage());
        }
        out.println(text.flush());
        Cli.flush(out);
        if (!quiet) {
            err.println(String.format(Locale.ROOT, "corvus: %s, %s weights, %s, %d threads, %s%s",
                    path.getFileName(), Cli.weightTypes(weights), where, Parallel.parallelism(),
                    sampler, sampler.isGreedy() ? "" : " (seed " + s + ")"));
            err.println("corvus: " + r.stats().summary());
            err.flush();
        }
        if (r.stats().stop() == Generator.Stop.CONTEXT_FULL) {
            err.println("corvus: stopped because the context of " + generator.context() + " tokens is full"
                    + (ctx == null ? " (the model's context length)" : " (raise --ctx, up to the model's " + llama.config().seqLen() + ")"));
            err.flush();
        }
    }
}
