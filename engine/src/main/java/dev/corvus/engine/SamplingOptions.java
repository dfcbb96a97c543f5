package dev.corvus.engine;

/**
 * How the next token is chosen, with OpenAI's and llama.cpp's meanings: temperature 0 is greedy;
 * otherwise the logits are filtered by {@code topK} (0 keeps all), then {@code topP} (1 keeps
 * all), then {@code minP} (0 keeps all: drop tokens less likely than minP times the most likely
 * one), and one token is drawn at the temperature from a random source seeded with {@code seed}.
 */
public record SamplingOptions(float temperature, float topP, int topK, float minP, long seed) {
    public SamplingOptions {
        if (!(temperature >= 0) || Float.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number >= 0, got " + temperature);
        }
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
        if (topK < 0) throw new IllegalArgumentException("top_k must be >= 0 (0 keeps every token), got " + topK);
        if (!(minP >= 0 && minP <= 1)) throw new IllegalArgumentException("min_p must be in [0, 1], got " + minP);
    }

    /** Always the most likely token. */
    public static SamplingOptions greedy() {
        return new SamplingOptions(0, 1, 0, 0, 0);
    }

    public boolean isGreedy() {
        return temperature == 0;
    }
}
