package dev.corvus.model;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A model, tokenizer or GGUF file that cannot be read: truncated, trailing bytes, wrong magic,
 * sizes that disagree or make no sense. The message names the file and what is wrong.
 */
public class CheckpointException extends IOException {
    private final Path file;

    public CheckpointException(Path file, String problem) {
        super(file + ": " + problem);
        this.file = file;
    }

    public CheckpointException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
        this.file = file;
    }

    /** The file that could not be read. */
    public Path file() {
        return file;
    }
}
