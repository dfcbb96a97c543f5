package dev.corvus.cli.chat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/**
 * The llama.cpp source tree (the oracle: real chat templates, vocabularies, test vectors), found
 * as the common test rule says: system property {@code corvus.llamaCpp}, else env
 * {@code CORVUS_LLAMA_CPP}, else the directory named in {@code ~/.cache/corvus/llama.cpp-src.ok}.
 * Missing, it fails the test under CI=true (the oracle must not be skipped there) and skips it
 * elsewhere.
 */
final class LlamaCppSource {
    private LlamaCppSource() {}

    static Path dir() {
        String prop = System.getProperty("corvus.llamaCpp"), env = System.getenv("CORVUS_LLAMA_CPP");
        Path dir = null;
        if (prop != null && !prop.isBlank()) dir = Path.of(prop);
        else if (env != null && !env.isBlank()) dir = Path.of(env);
        else {
            Path marker = Path.of(System.getProperty("user.home"), ".cache", "corvus", "llama.cpp-src.ok");
            if (Files.isRegularFile(marker)) {
                try {
                    dir = Path.of(Files.readString(marker).strip());
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        }
        boolean present = dir != null && Files.isDirectory(dir.resolve("models"));
        String why = "llama.cpp source not found (" + (dir == null ? "no corvus.llamaCpp, CORVUS_LLAMA_CPP or ~/.cache/corvus/llama.cpp-src.ok" : dir + " has no models/")
                + "); run scripts/llama-cpp.sh";
        if (!present && "true".equals(System.getenv("CI"))) throw new AssertionError(why);
        Assumptions.assumeTrue(present, why);
        return dir;
    }

    static Path templates() {
        return dir().resolve("models/templates");
    }

    static Path template(String name) {
        Path p = templates().resolve(name);
        if (!Files.isRegularFile(p)) throw new AssertionError("llama.cpp has no " + p + " (the tests expect its models/templates/)");
        return p;
    }

    static Path vocab(String name) {
        Path p = dir().resolve("models/ggml-vocab-" + name + ".gguf");
        if (!Files.isRegularFile(p)) throw new AssertionError("llama.cpp has no " + p);
        return p;
    }
}
