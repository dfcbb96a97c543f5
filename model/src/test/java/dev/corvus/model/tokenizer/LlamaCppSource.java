package dev.corvus.model.tokenizer;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/**
 * The llama.cpp source tree (the oracle: its models/ggml-vocab-*.gguf with .inp/.out test
 * vectors): system property {@code corvus.llamaCpp}, else env {@code CORVUS_LLAMA_CPP}, else the
 * directory named in {@code ~/.cache/corvus/llama.cpp-src.ok} that scripts/llama-cpp.sh writes.
 * Missing, it fails the test under CI=true (the oracle must not be skipped there) and skips it
 * elsewhere.
 */
final class LlamaCppSource {
    private LlamaCppSource() {}

    static Path dir() {
        String where = System.getProperty("corvus.llamaCpp");
        if (where == null || where.isBlank()) where = System.getenv("CORVUS_LLAMA_CPP");
        Path marker = Path.of(System.getProperty("user.home"), ".cache", "corvus", "llama.cpp-src.ok");
        if ((where == null || where.isBlank()) && Files.isRegularFile(marker)) {
            try {
                where = Files.readString(marker).strip();
            } catch (IOException e) {
                where = null;
            }
        }
        Path dir = where == null || where.isBlank() ? null : Path.of(where);
        if (dir == null || !Files.isDirectory(dir.resolve("models"))) {
            String why = "the llama.cpp source is not there (" + (dir == null ? "no corvus.llamaCpp, CORVUS_LLAMA_CPP or " + marker : dir)
                    + "); run scripts/llama-cpp.sh to fetch it";
            if ("true".equalsIgnoreCase(System.getenv("CI"))) fail(why);
            Assumptions.assumeTrue(false, why);
        }
        return dir;
    }

    /** models/ggml-vocab-NAME.gguf, which must exist once the source is there. */
    static Path vocab(String name) {
        Path file = dir().resolve("models").resolve("ggml-vocab-" + name + ".gguf");
        if (!Files.isRegularFile(file)) fail("llama.cpp's vocabulary " + file + " is missing");
        return file;
    }
}
