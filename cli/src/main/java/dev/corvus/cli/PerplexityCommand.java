package dev.corvus.cli;

import dev.corvus.model.Checkpoint;
import dev.corvus.model.LlamaModel;
import dev.corvus.model.Scoring;
import dev.corvus.model.Tokenizer;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code corvus perplexity --model M --file TEXT [--ctx N]}: perplexity by llama.cpp's
 * {@code llama-perplexity} method ({@link Scoring#perplexity}), printed the way it prints it: the
 * running estimate after each chunk ("[1]x,[2]y,...") and "Final estimate: PPL = x +/- y", so the
 * numbers compare.
 */
@Command(name = "perplexity", sortOptions = false,
        description = {"Perplexity of a text file as llama.cpp's llama-perplexity computes it: BOS-led chunks of --ctx tokens,",
            "the second half of each scored; prints the running estimate per chunk and the final PPL +/- its error."})
final class PerplexityCommand implements Callable<Integer> {
    @Option(names = "--model", paramLabel = "PATH", description = "llama2.c checkpoint (.bin) or GGUF file (default: TinyStories 15M, fetched into ~/.cache/corvus).")
    Path model;

    @Option(names = "--tokenizer", paramLabel = "PATH", description = "llama2.c tokenizer.bin (default: the GGUF's own, or tokenizer.bin beside the checkpoint).")
    Path tokenizer;

    @Option(names = "--file", required = true, paramLabel = "TEXT", description = "UTF-8 text to score (one trailing newline is dropped, as llama-perplexity -f does).")
    Path file;

    @Option(names = "--ctx", paramLabel = "N", description = "Tokens per chunk (default: 512 as llama-perplexity, or the model's context when shorter).")
    Integer ctx;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (!Files.isRegularFile(file)) throw new IllegalArgumentException("--file " + file + " does not exist");
        String text = Files.readString(file, StandardCharsets.UTF_8);
        if (text.endsWith("\n")) text = text.substring(0, text.length() - 1);
        Path path = model != null ? model : Cli.defaultModel();
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        try (Checkpoint ckpt = Cli.load(path, tokenizer)) {
            Tokenizer tok = Cli.tokenizer(ckpt, path);
            int n = ctx != null ? ctx : Math.min(512, ckpt.config().seqLen());
            int[] tokens = tok.encode(text, true, false);
            err.printf(Locale.ROOT, "corvus: %s tokenizes to %d tokens; %d chunks of %d%n", file.getFileName(), tokens.length, tokens.length / Math.max(1, n), n);
            err.flush();
            int[] chunk = {0};
            Scoring.Perplexity r = Scoring.perplexity(new LlamaModel(ckpt.config(), ckpt.weights()), tokens, n, tok.bosId(), ppl -> {
                out.printf(Locale.ROOT, "[%d]%.4f,", ++chunk[0], ppl);
                out.flush();
            });
            out.println();
            out.printf(Locale.ROOT, "Final estimate: PPL = %.4f +/- %.5f%n", r.ppl(), r.stderr());
        }
        out.flush();
        return 0;
    }
}
