package dev.corvus.cli;

import dev.corvus.model.Checkpoint;
import dev.corvus.model.LlamaModel;
import dev.corvus.model.Scoring;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code corvus logits --model M --tokens 1,2,3 [--top 5]}: teacher-forced logits, one line per
 * position, "POS ID:LOGIT ..." best first, the text llama.cpp's oracle tool
 * (model/src/test/c/corvus_logits.c, {@code -k}) prints, so the two diff.
 */
@Command(name = "logits", sortOptions = false,
        description = {"Teacher-forced logits of a token sequence: per position the top tokens, best first, as POS ID:LOGIT ...",
            "(the format of the conformance tool corvus-logits -k, so the outputs diff)."})
final class LogitsCommand implements Callable<Integer> {
    @Option(names = "--model", paramLabel = "PATH", description = "llama2.c checkpoint (.bin) or GGUF file (default: TinyStories 15M, fetched into ~/.cache/corvus).")
    Path model;

    @Option(names = "--tokens", required = true, paramLabel = "ID,ID,...", split = ",", description = "Token ids, comma-separated (BOS is not added).")
    int[] tokens;

    @Option(names = "--top", description = "Tokens per position (default ${DEFAULT-VALUE}).", defaultValue = "5")
    int top;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (top <= 0) throw new IllegalArgumentException("--top " + top + ": expected a positive count");
        Path path = model != null ? model : Cli.defaultModel();
        PrintWriter out = spec.commandLine().getOut();
        try (Checkpoint ckpt = Cli.load(path, null)) {
            int vocab = ckpt.config().vocabSize();
            for (int i = 0; i < tokens.length; i++) {
                if (tokens[i] < 0 || tokens[i] >= vocab) {
                    throw new IllegalArgumentException("--tokens: id " + tokens[i] + " at index " + i + " is outside the vocabulary [0, " + vocab + ") of " + path);
                }
            }
            float[][] logits = Scoring.logits(new LlamaModel(ckpt.config(), ckpt.weights()), tokens);
            for (int p = 0; p < logits.length; p++) out.println(line(p, logits[p], top));
        }
        out.flush();
        return 0;
    }

    /** "POS ID:LOGIT ..." with the {@code k} largest logits, ties to the lower id. */
    static String line(int position, float[] logits, int k) {
        Integer[] ids = new Integer[logits.length];
        for (int i = 0; i < ids.length; i++) ids[i] = i;
        Arrays.sort(ids, (a, b) -> logits[a] != logits[b] ? Float.compare(logits[b], logits[a]) : Integer.compare(a, b));
        StringBuilder sb = new StringBuilder().append(position);
        for (int j = 0; j < Math.min(k, ids.length); j++) sb.append(String.format(Locale.ROOT, " %d:%.4f", ids[j], logits[ids[j]]));
        return sb.toString();
    }
}
