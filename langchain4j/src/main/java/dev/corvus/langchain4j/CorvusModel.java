package dev.corvus.langchain4j;

import dev.corvus.chat.ChatFormatter;
import dev.corvus.engine.Engine;
import dev.corvus.engine.EngineConfig;
import dev.corvus.model.Checkpoint;
import dev.corvus.model.Checkpoints;
import dev.corvus.model.LlamaModel;
import dev.corvus.model.Tokenizer;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;

/**
 * A model loaded in this JVM with its tokenizer, chat template and {@link Engine}: what
 * {@link CorvusChatModel} and {@link CorvusStreamingChatModel} run on. Load it once and hand it to
 * both builders to share one copy of the weights; whoever loaded it closes it.
 */
public final class CorvusModel implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(CorvusModel.class.getName());

    private final Checkpoint checkpoint;
    private final Engine engine;
    private final ChatFormatter formatter;
    private final String name;

    private CorvusModel(Checkpoint checkpoint, Engine engine, ChatFormatter formatter, String name) {
        this.checkpoint = checkpoint;
        this.engine = engine;
        this.formatter = formatter;
        this.name = name;
    }

    /** {@link #load(Path, Path, Path, int)} with the file's own tokenizer and template, at the model's context length. */
    public static CorvusModel load(Path modelFile) throws IOException {
        return load(modelFile, null, null, 0);
    }

    /**
     * Loads a GGUF file or a llama2.c checkpoint.
     *
     * @param modelFile     the model
     * @param tokenizerFile a llama2.c {@code tokenizer.bin}; null for the GGUF's own vocabulary, or the {@code tokenizer.bin} beside a checkpoint
     * @param chatTemplate  a Jinja chat template file instead of the model's; null for the model's own, or ChatML when it has none
     *                      ({@link ChatFormatter#CHATML}, as llama.cpp does; a warning is logged)
     * @param contextLength positions one conversation may use, prompt and reply; 0 for the model's own
     * @throws IllegalArgumentException when a file is missing, the model carries no tokenizer, or {@code contextLength} is negative
     * @throws IOException              when a file cannot be read or is not a model
     */
    public static CorvusModel load(Path modelFile, Path tokenizerFile, Path chatTemplate, int contextLength) throws IOException {
        Objects.requireNonNull(modelFile, "modelFile");
        if (contextLength < 0) throw new IllegalArgumentException("contextLength must be >= 0 (0: the model's own), got " + contextLength);
        requireFile(modelFile, "model file");
        if (tokenizerFile != null) requireFile(tokenizerFile, "tokenizer file");
        if (chatTemplate != null) requireFile(chatTemplate, "chat template file");
        Checkpoint ckpt = Checkpoints.load(modelFile);
        try {
            if (tokenizerFile != null) ckpt = ckpt.withTokenizer(Tokenizer.loadLlama2c(tokenizerFile, ckpt.config().vocabSize()));
            Tokenizer tok = ckpt.tokenizer().orElseThrow(() -> new IllegalArgumentException("no tokenizer for " + modelFile
                    + ": a llama2.c checkpoint needs its tokenizer.bin beside it, or name one with tokenizerPath"));
            ChatFormatter formatter = ChatFormatter.forModel(modelFile, chatTemplate, tok);
            if (formatter.usesFallback()) {
                LOG.log(Level.WARNING, "{0} has no chat template; using ChatML as llama.cpp does (set chatTemplate to the model''s own)",
                        modelFile.getFileName());
            }
            Engine engine = Engine.start(new LlamaModel(ckpt.config(), ckpt.weights()), tok,
                    EngineConfig.defaults().withContextLength(contextLength));
            return new CorvusModel(ckpt, engine, formatter, modelFile.getFileName().toString());
        } catch (IOException | RuntimeException e) {
            ckpt.close();
            throw e;
        }
    }

    private static void requireFile(Path path, String what) {
        if (!Files.isRegularFile(path)) throw new IllegalArgumentException(what + " " + path + " does not exist or is not a regular file");
        if (!Files.isReadable(path)) throw new IllegalArgumentException(what + " " + path + " cannot be read (permission denied)");
    }

    public Engine engine() {
        return engine;
    }

    /** Messages to prompt tokens with this model's template and BOS rule. */
    public ChatFormatter formatter() {
        return formatter;
    }

    /** The model file's name, reported as the responses' model name. */
    public String name() {
        return name;
    }

    /** Positions (prompt and reply) one request may use. */
    public int contextLength() {
        return engine.contextLength();
    }

    /** Stops the engine (running requests end with an error) and frees the weights. */
    @Override
    public void close() {
        try {
            engine.close();
        } finally {
            checkpoint.close();
        }
    }
}
