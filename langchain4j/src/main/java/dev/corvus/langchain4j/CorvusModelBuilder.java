package dev.corvus.langchain4j;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * The settings {@link CorvusChatModel.Builder} and {@link CorvusStreamingChatModel.Builder} share:
 * which model (a file to load, or a {@link CorvusModel} already loaded) and the defaults of every
 * request, which a {@code ChatRequest}'s own parameters override where LangChain4j defines them
 * (temperature, topP, topK, maxOutputTokens, stopSequences). Defaults: greedy (temperature 0,
 * as {@code corvus generate}), topP 1, topK 0 and minP 0 (all off), a fresh random seed per
 * request, replies up to the end of the context, no stop strings.
 *
 * @param <B> the concrete builder
 */
public abstract class CorvusModelBuilder<B extends CorvusModelBuilder<B>> {
    Path modelPath, tokenizerPath, chatTemplate;
    CorvusModel model;
    int contextLength;
    double temperature, topP = 1, minP;
    int topK;
    Long seed;
    Integer maxTokens;
    List<String> stop = List.of();

    CorvusModelBuilder() {}

    abstract B self();

    /** The GGUF file or llama2.c checkpoint to load; the built model owns it and frees it on close. */
    public B modelPath(Path modelPath) {
        this.modelPath = modelPath;
        return self();
    }

    /** A llama2.c {@code tokenizer.bin} for a checkpoint that has none beside it. */
    public B tokenizerPath(Path tokenizerPath) {
        this.tokenizerPath = tokenizerPath;
        return self();
    }

    /** A model already loaded, shared with other chat models; its owner closes it, not the built model. */
    public B model(CorvusModel model) {
        this.model = model;
        return self();
    }

    /** A Jinja chat template file to use instead of the model's own. */
    public B chatTemplate(Path chatTemplate) {
        this.chatTemplate = chatTemplate;
        return self();
    }

    /** Positions one request may use, prompt and reply (default: the model's own context). */
    public B contextLength(int contextLength) {
        this.contextLength = contextLength;
        return self();
    }

    /** 0 is greedy (the default); higher is more random. */
    public B temperature(double temperature) {
        this.temperature = temperature;
        return self();
    }

    /** Nucleus sampling: keep the most likely tokens whose probabilities add up to this, in (0, 1] (1: off, the default). */
    public B topP(double topP) {
        this.topP = topP;
        return self();
    }

    /** Keep only the k most likely tokens (0: off, the default). */
    public B topK(int topK) {
        this.topK = topK;
        return self();
    }

    /** Drop tokens less likely than minP times the most likely one, in [0, 1] (0: off, the default). */
    public B minP(double minP) {
        this.minP = minP;
        return self();
    }

    /** The random seed of every request (default: a fresh one per request). */
    public B seed(long seed) {
        this.seed = seed;
        return self();
    }

    /** The most tokens a reply may have (default: up to the end of the context). */
    public B maxTokens(int maxTokens) {
        this.maxTokens = maxTokens;
        return self();
    }

    /** Strings that end a reply (the string itself is not returned). */
    public B stop(List<String> stop) {
        this.stop = List.copyOf(stop);
        return self();
    }

    /** {@link #stop(List)} */
    public B stop(String... stop) {
        return stop(Arrays.asList(stop));
    }

    /** The model to run on, loaded when a path was given, and whether the built model owns it. */
    record Source(CorvusModel model, boolean owned) {}

    Source source() {
        if (model != null) {
            if (modelPath != null || tokenizerPath != null || chatTemplate != null || contextLength != 0) {
                throw new IllegalArgumentException("give either model(CorvusModel) or modelPath (with tokenizerPath, chatTemplate, contextLength),"
                        + " not both: a model already loaded has its template and context");
            }
            return new Source(model, false);
        }
        if (modelPath == null) throw new IllegalArgumentException("no model: set modelPath(Path) or model(CorvusModel)");
        try {
            return new Source(CorvusModel.load(modelPath, tokenizerPath, chatTemplate, contextLength), true);
        } catch (IOException e) {
            throw new UncheckedIOException("could not load " + modelPath + ": " + e.getMessage(), e);
        }
    }
}
