package dev.corvus.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.corvus.chat.ChatFormatter;
import dev.corvus.chat.ChatMessage;
import dev.corvus.chat.ChatTemplateException;
import dev.corvus.engine.SamplingOptions;
import dev.corvus.model.Tokenizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The OpenAI request bodies of {@code /v1/chat/completions} and {@code /v1/completions} read into
 * what the engine takes, every field checked with an error that names it. OpenAI's defaults:
 * temperature 1, top_p 1, no stop strings, one choice; {@code max_tokens} (or
 * {@code max_completion_tokens}) defaults to what the context has left after the prompt.
 */
final class Requests {
    /** Stop strings a request may give; each is matched against the text at every token. */
    static final int MAX_STOP_STRINGS = 16;

    /** Chat roles a template is given, OpenAI's "developer" being its newer name for "system". */
    private static final Map<String, String> ROLES = Map.of("system", "system", "developer", "system", "user", "user", "assistant", "assistant");

    /** What the server serves: its model's name, tokenizer and chat template, and the positions one request may use. */
    record Model(String id, Tokenizer tokenizer, Optional<ChatFormatter> chat, int contextLength) {}

    /** One parsed request: its prompt tokens and generation options, and how to answer. */
    record Call(boolean chat, boolean stream, boolean includeUsage, int[] prompt, int maxTokens, SamplingOptions sampling, List<String> stop) {}

    private Requests() {}

    static Call chat(ObjectNode body, Model model) {
        common(body, model);
        JsonNode messages = Json.field(body, "messages");
        if (messages == null) throw ApiError.invalid("messages", "messages is missing; expected an array of {\"role\", \"content\"} objects");
        if (!messages.isArray()) throw Json.wrongType("messages", messages, "an array of {\"role\", \"content\"} objects");
        if (messages.isEmpty()) throw ApiError.invalid("messages", "messages is empty; expected at least one message");
        List<ChatMessage> turns = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) turns.add(message(messages.get(i), "messages[" + i + "]"));
        ChatFormatter formatter = model.chat().orElseThrow(() -> ApiError.invalid("messages", "model_without_chat_template",
                "the model " + model.id() + " has no chat template (GGUF key tokenizer.chat_template), so it cannot take messages;"
                        + " use /v1/completions with a prompt, or start the server with a chat template"));
        int[] prompt;
        try {
            prompt = formatter.tokens(turns);
        } catch (ChatTemplateException e) {
            throw ApiError.invalid("messages", "the model's chat template refused these messages: " + e.getMessage());
        }
        return finish(body, model, true, prompt, "messages");
    }

    static Call completion(ObjectNode body, Model model) {
        common(body, model);
        JsonNode p = Json.field(body, "prompt");
        if (p == null) throw ApiError.invalid("prompt", "prompt is missing; expected a string (or an array of token ids)");
        int[] prompt;
        Tokenizer tok = model.tokenizer();
        if (p.isTextual()) {
            prompt = encode(tok, p.asText());
        } else if (p.isArray() && p.size() == 1 && p.get(0).isTextual()) {
            prompt = encode(tok, p.get(0).asText());
        } else if (p.isArray() && !p.isEmpty() && p.get(0).isNumber()) {
            prompt = new int[p.size()];
            for (int i = 0; i < p.size(); i++) {
                JsonNode t = p.get(i);
                if (!t.isIntegralNumber() || !t.canConvertToInt() || t.intValue() < 0 || t.intValue() >= tok.vocabSize()) {
                    throw ApiError.invalid("prompt", "prompt[" + i + "] is " + t + "; expected a token id from 0 to " + (tok.vocabSize() - 1));
                }
                prompt[i] = t.intValue();
            }
        } else if (p.isArray() && p.size() > 1) {
            throw ApiError.invalid("prompt", "prompt is an array of " + p.size() + " prompts; this server completes one prompt per request");
        } else {
            throw Json.wrongType("prompt", p, "a string (or an array of token ids)");
        }
        return finish(body, model, false, prompt, "prompt");
    }

    /** BOS as the vocabulary asks (Qwen's does not); an empty prompt still needs one token to start from, as in corvus generate. */
    private static int[] encode(Tokenizer tok, String text) {
        return tok.encode(text, tok.addBos() || text.isEmpty(), false);
    }

    private static void common(ObjectNode body, Model model) {
        String name = Json.string(body, "model", "model");
        if (name != null && !name.equals(model.id())) {
            throw new ApiError(404, "invalid_request_error", "model", "model_not_found",
                    "the model " + quoted(name) + " does not exist; this server serves " + quoted(model.id()) + " (see GET /v1/models)");
        }
        Long n = Json.integer(body, "n", 1, Integer.MAX_VALUE);
        if (n != null && n != 1) throw ApiError.invalid("n", "n is " + n + "; this server generates one choice per request (n = 1)");
    }

    private static ChatMessage message(JsonNode m, String where) {
        if (!m.isObject()) throw Json.wrongType(where, m, "an object {\"role\", \"content\"}");
        String role = Json.string(m, "role", where + ".role");
        if (role == null) throw ApiError.invalid(where + ".role", where + ".role is missing; expected one of system, developer, user, assistant");
        String mapped = ROLES.get(role);
        if (mapped == null) {
            throw ApiError.invalid(where + ".role", where + ".role is " + quoted(role) + "; expected one of system, developer, user, assistant");
        }
        JsonNode content = Json.field(m, "content");
        if (content == null) {
            throw ApiError.invalid(where + ".content", where + ".content is missing; expected a string or an array of text parts");
        }
        if (content.isTextual()) return new ChatMessage(mapped, content.asText());
        if (!content.isArray()) throw Json.wrongType(where + ".content", content, "a string or an array of text parts");
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < content.size(); i++) {
            String at = where + ".content[" + i + "]";
            JsonNode part = content.get(i);
            if (!part.isObject()) throw Json.wrongType(at, part, "an object {\"type\": \"text\", \"text\"}");
            String type = Json.string(part, "type", at + ".type");
            if (!"text".equals(type)) {
                throw ApiError.invalid(at + ".type", at + ".type is " + (type == null ? "missing" : quoted(type))
                        + "; this model reads text only (\"type\": \"text\")");
            }
            String t = Json.string(part, "text", at + ".text");
            if (t == null) throw ApiError.invalid(at + ".text", at + ".text is missing");
            text.append(t);
        }
        return new ChatMessage(mapped, text.toString());
    }

    private static Call finish(ObjectNode body, Model model, boolean chat, int[] prompt, String promptParam) {
        int context = model.contextLength();
        if (prompt.length >= context) {
            throw ApiError.invalid(promptParam, "context_length_exceeded", "the " + promptParam + " take " + prompt.length
                    + " tokens; the context holds " + context + ", which must leave room for at least one generated token");
        }
        String budgetParam = Json.field(body, "max_completion_tokens") != null ? "max_completion_tokens" : "max_tokens";
        Long max = Json.integer(body, budgetParam, 1, Integer.MAX_VALUE);
        int maxTokens = context - prompt.length;
        if (max != null) {
            if (prompt.length + max > context) {
                throw ApiError.invalid(budgetParam, "context_length_exceeded", "the context holds " + context + " tokens, but " + prompt.length
                        + " in the " + promptParam + " and " + budgetParam + " " + max + " make " + (prompt.length + max)
                        + "; lower " + budgetParam + " to at most " + (context - prompt.length));
            }
            maxTokens = (int) (long) max;
        }
        double temperature = orElse(Json.number(body, "temperature", 0, 2), 1.0);
        double topP = orElse(Json.number(body, "top_p", 0, 1), 1.0);
        if (topP == 0) throw ApiError.invalid("top_p", "top_p is 0; expected a number above 0, up to 1 (1 keeps every token)");
        Long topK = Json.integer(body, "top_k", 0, Integer.MAX_VALUE);
        double minP = orElse(Json.number(body, "min_p", 0, 1), 0.0);
        Long seed = Json.integer(body, "seed", Long.MIN_VALUE, Long.MAX_VALUE);
        SamplingOptions sampling = new SamplingOptions((float) temperature, (float) topP, topK == null ? 0 : (int) (long) topK, (float) minP,
                seed != null ? seed : ThreadLocalRandom.current().nextLong());
        boolean stream = Boolean.TRUE.equals(Json.bool(body, "stream"));
        boolean includeUsage = false;
        JsonNode options = Json.field(body, "stream_options");
        if (options != null) {
            if (!options.isObject()) throw Json.wrongType("stream_options", options, "an object {\"include_usage\": true|false}");
            JsonNode usage = Json.field(options, "include_usage");
            if (usage != null && !usage.isBoolean()) throw Json.wrongType("stream_options.include_usage", usage, "true or false");
            includeUsage = usage != null && usage.booleanValue();
        }
        return new Call(chat, stream, includeUsage, prompt, maxTokens, sampling, stop(body));
    }

    private static List<String> stop(ObjectNode body) {
        JsonNode s = Json.field(body, "stop");
        if (s == null) return List.of();
        if (s.isTextual()) return List.of(nonEmpty(s.asText(), "stop"));
        if (!s.isArray()) throw Json.wrongType("stop", s, "a string or an array of strings");
        if (s.size() > MAX_STOP_STRINGS) throw ApiError.invalid("stop", "stop has " + s.size() + " strings; at most " + MAX_STOP_STRINGS + " are allowed");
        List<String> out = new ArrayList<>();
        for (int i = 0; i < s.size(); i++) {
            if (!s.get(i).isTextual()) throw Json.wrongType("stop[" + i + "]", s.get(i), "a string");
            out.add(nonEmpty(s.get(i).asText(), "stop[" + i + "]"));
        }
        return out;
    }

    private static String nonEmpty(String s, String param) {
        if (s.isEmpty()) throw ApiError.invalid(param, param + " is an empty string, which would end every generation at once");
        return s;
    }

    private static double orElse(Double d, double otherwise) {
        return d != null ? d : otherwise;
    }

    private static String quoted(String s) {
        return Json.MAPPER.getNodeFactory().textNode(s.length() > 80 ? s.substring(0, 77) + "..." : s).toString();
    }
}
