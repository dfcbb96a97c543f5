package dev.corvus.langchain4j;

import dev.corvus.chat.ChatMessage;
import dev.corvus.model.Checkpoint;
import dev.corvus.model.Checkpoints;
import dev.corvus.model.Generator;
import dev.corvus.model.LlamaModel;
import dev.corvus.model.Sampler;
import dev.corvus.model.Tokenizer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * The reference the chat models are held to: the library's own greedy loop ({@link Generator},
 * not the engine) on the conversation's prompt tokens, loaded separately from the model under test.
 */
record Greedy(String text, int[] tokens, int promptTokens) {
    static Greedy of(Path modelFile, CorvusModel model, List<ChatMessage> messages, int maxTokens) throws IOException {
        try (Checkpoint ckpt = Checkpoints.load(modelFile)) {
            Tokenizer tok = ckpt.tokenizer().orElseThrow();
            int[] prompt = model.formatter().tokens(messages);
            int[] tokens = new Generator(new LlamaModel(ckpt.config(), ckpt.weights()), Sampler.greedy(), tok.endOfGenerationIds())
                    .generate(prompt, maxTokens, t -> {}).tokens();
            Tokenizer.StreamDecoder d = tok.streamDecoder();
            StringBuilder text = new StringBuilder();
            for (int t : tokens) text.append(d.next(t));
            return new Greedy(text.append(d.flush()).toString(), tokens, prompt.length);
        }
    }
}
