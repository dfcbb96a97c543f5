package dev.corvus.langchain4j;

import dev.corvus.engine.SamplingOptions;
import java.util.List;

/** A builder's request settings, checked: the same rules the engine applies, said in the builder's words. */
record RequestDefaults(double temperature, double topP, int topK, double minP, Long seed, Integer maxTokens, List<String> stop) {
    RequestDefaults {
        sampling(temperature, topP, topK, minP, 0);
        if (maxTokens != null && maxTokens < 1) throw new IllegalArgumentException("maxTokens must be >= 1, got " + maxTokens);
        for (String s : stop) {
            if (s == null || s.isEmpty()) throw new IllegalArgumentException("stop: an empty string (or null) would end every reply at once");
        }
    }

    static RequestDefaults of(CorvusModelBuilder<?> b) {
        return new RequestDefaults(b.temperature, b.topP, b.topK, b.minP, b.seed, b.maxTokens, b.stop);
    }

    /** The engine's options, whose checks name the option and the range expected. */
    static SamplingOptions sampling(double temperature, double topP, int topK, double minP, long seed) {
        if (!Double.isFinite(temperature) || !Double.isFinite(topP) || !Double.isFinite(minP)) {
            throw new IllegalArgumentException("temperature, topP and minP must be finite numbers, got " + temperature + ", " + topP + ", " + minP);
        }
        return new SamplingOptions((float) temperature, (float) topP, topK, (float) minP, seed);
    }
}
