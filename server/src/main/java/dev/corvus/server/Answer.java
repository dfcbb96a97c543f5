package dev.corvus.server;

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
record Answer(Requests.Call call, String id, long created, String model) {
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

    Map<String, Object> textChunk(String text) {
        return chunk(Map.of("content", text), text, null);
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
