package dev.corvus.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.io.JsonStringEncoder;
import dev.corvus.engine.Completion;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The response objects of one request, as OpenAI writes them: {@code chat.completion} and
 * {@code text_completion} whole, or their chunks when streamed ({@code chat.completion.chunk}
 * with a {@code delta}; {@code text_completion} with the new text). With
 * {@code stream_options.include_usage}, every chunk carries {@code "usage": null} and a last one
 * with no choices carries the usage.
 */
final class Answer {
    private final Requests.Call call;
    private final String id;
    private final long created;
    private final String model;
    /** The text chunk's JSON before and after its text; built on first use (one request's thread uses an answer). */
    private String[] textFrame;

    Answer(Requests.Call call, String id, long created, String model) {
        this.call = call;
        this.id = id;
        this.created = created;
        this.model = model;
    }

    Requests.Call call() {
        return call;
    }

    Map<String, Object> whole(Completion c) {
        Map<String, Object> choice = new LinkedHashMap<>();
        choice.put("index", 0);
        if (call.chat()) {
            choice.put("message", Map.of("role", "assistant", "content", c.text()));
        } else {
            choice.put("text", c.text());
        }
        choice.put("logprobs", null);
        choice.put("finish_reason", c.finishReason().openAiName());
        Map<String, Object> m = head(call.chat() ? "chat.completion" : "text_completion");
        m.put("choices", List.of(choice));
        m.put("usage", usage(c));
        return m;
    }

    /** The first chat chunk: who speaks, no text yet. */
    Map<String, Object> roleChunk() {
        Map<String, Object> delta = new LinkedHashMap<>();
        delta.put("role", "assistant");
        delta.put("content", "");
        return chunk(delta, "", null);
    }

    /** A text chunk's map, as {@link #textChunk} writes it (kept for the test that holds the two equal). */
    Map<String, Object> textChunkMap(String text) {
        return chunk(Map.of("content", text), text, null);
    }

    /**
     * A text chunk as JSON, the same bytes as {@link Json#MAPPER} writes for
     * {@link #textChunkMap}, from a prefix and suffix built once per answer with only the text
     * escaped per token: streaming writes one of these per token on the request's thread, which
     * shares the two cores with the engine's (the spin team's workers stall a step while that
     * thread holds their core).
     */
    String textChunk(String text) {
        String[] frame = textFrame;
        if (frame == null) {
            String marker = "\u0000corvus-text\u0000";
            try {
                String whole = Json.MAPPER.writeValueAsString(textChunkMap(marker));
                String quoted = Json.MAPPER.writeValueAsString(marker);
                int at = whole.indexOf(quoted);
                frame = textFrame = new String[] {whole.substring(0, at), whole.substring(at + quoted.length())};
            } catch (JsonProcessingException impossible) {
                throw new IllegalStateException(impossible);
            }
        }
        StringBuilder b = new StringBuilder(frame[0].length() + frame[1].length() + text.length() + 8).append(frame[0]).append('"');
        JsonStringEncoder.getInstance().quoteAsString(text, b);
        return b.append('"').append(frame[1]).toString();
    }

    Map<String, Object> finalChunk(Completion c) {
        return chunk(Map.of(), "", c.finishReason().openAiName());
    }

    Map<String, Object> usageChunk(Completion c) {
        Map<String, Object> m = head(chunkObject());
        m.put("choices", List.of());
        m.put("usage", usage(c));
        return m;
    }

    private Map<String, Object> chunk(Map<String, Object> delta, String text, String finishReason) {
        Map<String, Object> choice = new LinkedHashMap<>();
        choice.put("index", 0);
        if (call.chat()) choice.put("delta", delta);
        else choice.put("text", text);
        choice.put("logprobs", null);
        choice.put("finish_reason", finishReason);
        Map<String, Object> m = head(chunkObject());
        List<Object> choices = new ArrayList<>();
        choices.add(choice);
        m.put("choices", choices);
        if (call.includeUsage()) m.put("usage", null);
        return m;
    }

    private String chunkObject() {
        return call.chat() ? "chat.completion.chunk" : "text_completion";
    }

    private Map<String, Object> head(String object) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", id);
        m.put("object", object);
        m.put("created", created);
        m.put("model", model);
        m.put("system_fingerprint", null);
        return m;
    }

    private static Map<String, Object> usage(Completion c) {
        Map<String, Object> u = new LinkedHashMap<>();
        u.put("prompt_tokens", c.promptTokens());
        u.put("completion_tokens", c.completionTokens());
        u.put("total_tokens", c.promptTokens() + c.completionTokens());
        return u;
    }
}
