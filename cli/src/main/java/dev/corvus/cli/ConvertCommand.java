package dev.corvus.cli;

import dev.corvus.model.Checkpoint;
import dev.corvus.model.gguf.GgufWriter;
import dev.corvus.tensor.DType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code corvus convert INPUT OUTPUT --dtype f32|q8_0}: a llama2.c checkpoint or GGUF file to GGUF. */
@Command(name = "convert", description = "Write a model (llama2.c checkpoint or GGUF) as GGUF, its matrices in the chosen type; norms stay F32.")
final class ConvertCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "INPUT", description = "llama2.c checkpoint (.bin) or GGUF file.")
    Path input;

    @Parameters(index = "1", paramLabel = "OUTPUT", description = "GGUF file to write.")
    Path output;

    @Option(names = "--dtype", paramLabel = "f32|q8_0", description = "Type of the weight matrices (default ${DEFAULT-VALUE}).", defaultValue = "q8_0")
    String dtype;

    @Option(names = "--tokenizer", paramLabel = "PATH", description = "llama2.c tokenizer.bin to embed (default: the input's own, or tokenizer.bin beside it).")
    Path tokenizer;

    @Option(names = "--force", description = "Replace OUTPUT if it exists (only once the new file is complete).")
    boolean force;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        DType type = Cli.parseDType(dtype);
        Cli.requireFile(input, "INPUT");
        // the checks before the (possibly long) conversion; GgufWriter repeats the folder ones
        if (Files.isDirectory(output)) throw Cli.usage(spec, "OUTPUT " + output + " is a directory; name the GGUF file to write in it");
        Path folder = output.toAbsolutePath().getParent();
        if (!Files.isDirectory(folder)) throw Cli.usage(spec, "OUTPUT " + output + ": the folder " + folder + " does not exist");
        if (Files.exists(output) && !force) throw Cli.usage(spec, "OUTPUT " + output + " exists; pass --force to overwrite it");
        if (Files.exists(output) && Files.isSameFile(input, output)) throw Cli.usage(spec, "OUTPUT is the INPUT file " + input);
        long t0 = System.nanoTime();
        try (Checkpoint ckpt = Cli.load(input, tokenizer)) {
            if (ckpt.tokenizer().isEmpty()) spec.commandLine().getErr().println("corvus: no tokenizer found for " + input + "; writing the GGUF without one");
            // written beside OUTPUT and renamed over it at the end: a failure leaves OUTPUT as it was
            GgufWriter.writeLlama(output, ckpt.config(), ckpt.weights(), ckpt.tokenizer().orElse(null), type, TerminalProgress.forStderr());
        }
        spec.commandLine().getErr().println(String.format(Locale.ROOT, "corvus: wrote %s (%s matrices, %.1f MB) in %.1f s", output,
                type, Files.size(output) / 1e6, (System.nanoTime() - t0) / 1e9));
        return 0;
    }
}
