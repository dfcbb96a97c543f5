package dev.corvus.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.corvus.chat.ChatFormatter;
import dev.corvus.chat.ChatMessage;
import dev.corvus.engine.Engine;
import dev.corvus.engine.EngineConfig;
import dev.corvus.model.Checkpoint;
import dev.corvus.model.Checkpoints;
import dev.corvus.model.Generator;
import dev.corvus.model.LlamaModel;
import dev.corvus.model.ModelStore;
import dev.corvus.model.RealModel;
import dev.corvus.model.Sampler;
import dev.corvus.model.Tokenizer;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A real model behind a real server on an ephemeral port, for the tests: the engine, the server,
 * the library's own greedy generation to compare against, and a plain {@link HttpClient}.
 */
final class Served implements AutoCloseable {
    final Checkpoint checkpoint;
    final LlamaModel model;
    final Tokenizer tokenizer;
    final Optional<ChatFormatter> chat;
    final Engine engine;
    final CorvusServer server;
    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    private Served(Checkpoint checkpoint, Optional<ChatFormatter> chat, EngineConfig config, CorvusServer.Options options, String id) {
        this.checkpoint = checkpoint;
        this.model = new LlamaModel(checkpoint.config(), checkpoint.weights());
        this.tokenizer = checkpoint.tokenizer().orElseThrow();
        this.chat = chat;
        this.engine = Engine.start(model, tokenizer, config);
        this.server = CorvusServer.start(engine, id, chat, options);
    }

    /** stories15M (a llama2.c checkpoint: no chat template), served as "stories15M". */
    static Served stories(EngineConfig config, CorvusServer.Options options) throws IOException {
        ModelStore.Stories15M files = RealModel.files();
        Checkpoint c = Checkpoints.load(files.checkpoint()).withTokenizer(Tokenizer.loadLlama2c(files.tokenizer()));
        return new Served(c, Optional.empty(), config, options.withPort(0), "stories15M");
    }

    /**
     * A chat template for stories15M, which has none: the turns' texts one after the other, so a
     * chat is a story continued (what the client tests need: real English, the greedy text known).
     */
    static final String PLAIN_TEMPLATE = "{% for m in messages %}{{ m.content }}{% if not loop.last %}\n{% endif %}{% endfor %}";

    /** stories15M with {@link #PLAIN_TEMPLATE} as its chat template. */
    static Served storiesWithChat(EngineConfig config, CorvusServer.Options options) throws IOException {
        ModelStore.Stories15M files = RealModel.files();
        Checkpoint c = Checkpoints.load(files.checkpoint()).withTokenizer(Tokenizer.loadLlama2c(files.tokenizer()));
        Path template = Files.createTempFile("corvus-plain-template", ".jinja");
        Files.writeString(template, PLAIN_TEMPLATE);
        template.toFile().deleteOnExit();
        ChatFormatter chat = ChatFormatter.forModel(files.checkpoint(), template, c.tokenizer().orElseThrow());
        return new Served(c, Optional.of(chat), config, options.withPort(0), "stories15M");
    }

    static Served stories() throws IOException {
        return stories(EngineConfig.defaults(), CorvusServer.Options.defaults());
    }

    /** A GGUF with its chat template, served under its file name. */
    static Served gguf(Path file, EngineConfig config, CorvusServer.Options options) throws IOException {
        Checkpoint c = Checkpoints.load(file);
        Optional<ChatFormatter> chat = Optional.of(ChatFormatter.forModel(file, null, c.tokenizer().orElseThrow()));
        return new Served(c, chat, config, options.withPort(0), file.getFileName().toString());
    }

    URI uri(String path) {
        return server.url().resolve(path);
    }

    /** The library's greedy continuation of {@code prompt}: what the server must answer at temperature 0. */
    String greedy(int[] prompt, int maxTokens) {
        int[] tokens = new Generator(model, Sampler.greedy(), tokenizer.endOfGenerationIds()).generate(prompt, maxTokens, t -> {}).tokens();
        Tokenizer.StreamDecoder d = tokenizer.streamDecoder();
        StringBuilder text = new StringBuilder();
        for (int t : tokens) text.append(d.next(t));
        return text.append(d.flush()).toString();
    }

    /** The chat prompt's tokens, as the server's template makes them. */
    int[] chatPrompt(ChatMessage... messages) {
        return chat.orElseThrow().tokens(List.of(messages));
    }

    int[] encode(String prompt) {
        return tokenizer.encode(prompt, tokenizer.addBos() || prompt.isEmpty(), false);
    }

    HttpResponse<String> post(String path, String body, String... headers) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(120)).POST(HttpRequest.BodyPublishers.ofString(body))
                .header("Content-Type", "application/json");
        if (headers.length > 0) b.headers(headers);
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> postBytes(String path, byte[] body) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(120)).POST(HttpRequest.BodyPublishers.ofByteArray(body))
                .header("Content-Type", "application/json").build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> get(String path, String... headers) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(60)).GET();
        if (headers.length > 0) b.headers(headers);
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    static JsonNode json(String s) throws IOException {
        return Json.MAPPER.readTree(s);
    }

    /** The JSON of each {@code data:} event of a server-sent event stream, "[DONE]" as a text node. */
    static List<JsonNode> events(String stream) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        for (String block : stream.split("\n\n")) {
            StringBuilder data = new StringBuilder();
            for (String line : block.split("\n")) if (line.startsWith("data:")) data.append(line.substring(5).strip());
            if (data.isEmpty()) continue;
            out.add(data.toString().equals("[DONE]") ? Json.MAPPER.getNodeFactory().textNode("[DONE]") : json(data.toString()));
        }
        return out;
    }

    /** Waits until {@code condition} holds, failing the test after {@code limit}. */
    static void until(Duration limit, java.util.function.BooleanSupplier condition) throws InterruptedException {
        long end = System.nanoTime() + limit.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - end > 0) throw new AssertionError("not within " + limit);
            Thread.sleep(20);
        }
    }

    /** What a stream said: its text, finish_reason and usage (null without include_usage), the [DONE] seen. */
    record Streamed(String text, String finishReason, JsonNode usage) {}

    /**
     * Reads a whole event stream: every event but the final [DONE] is an {@code object} chunk
     * (chat's text in {@code delta.content}, a completion's in {@code text}), the usage chunk has
     * no choices.
     */
    static Streamed streamed(String sse, String object) throws IOException {
        List<JsonNode> events = events(sse);
        if (events.isEmpty() || !events.getLast().asText().equals("[DONE]")) throw new AssertionError("no [DONE] at the end of " + sse);
        StringBuilder text = new StringBuilder();
        String finish = null;
        JsonNode usage = null;
        for (JsonNode e : events.subList(0, events.size() - 1)) {
            if (!e.path("object").asText().equals(object)) throw new AssertionError("not a " + object + ": " + e);
            if (e.path("choices").isEmpty()) {
                usage = e.path("usage");
                continue;
            }
            JsonNode c = e.path("choices").get(0);
            text.append(c.has("delta") ? c.path("delta").path("content").asText("") : c.path("text").asText());
            if (!c.path("finish_reason").isNull()) finish = c.path("finish_reason").asText();
        }
        return new Streamed(text.toString(), finish, usage);
    }

    @Override
    public void close() {
        server.close();
        engine.close();
        checkpoint.close();
    }
}
