package dev.corvus.langchain4j;

import dev.corvus.chat.ChatMessage;
import dev.corvus.engine.Completion;
import dev.corvus.engine.GenerationRequest;
import dev.corvus.engine.SamplingOptions;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.ResponseFormatType;
import dev.langchain4j.model.chat.request.ToolChoice;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.model.output.TokenUsage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/** LangChain4j's requests to the engine's and its completions back: what both chat models share. */
final class ChatRequests {
    private final CorvusModel model;
    private final RequestDefaults defaults;

    ChatRequests(CorvusModel model, RequestDefaults defaults) {
        this.model = model;
        this.defaults = defaults;
    }

    CorvusModel model() {
        return model;
    }

    /** The builder's settings as LangChain4j's parameters, which a request's own override (ChatModel.chat merges them). */
    ChatRequestParameters defaultParameters() {
        return ChatRequestParameters.builder()
                .modelName(model.name())
                .temperature(defaults.temperature())
                .topP(defaults.topP())
                .topK(defaults.topK())
                .maxOutputTokens(defaults.maxTokens())
                .stopSequences(defaults.stop())
                .build();
    }

    /**
     * The engine's request for {@code request}, whose parameters are already merged with the defaults.
     *
     * @throws UnsupportedFeatureException for tools, JSON response formats, penalties, and messages other than text
     * @throws IllegalArgumentException    for options out of range and prompts that do not fit the context
     */
    GenerationRequest generation(ChatRequest request) {
        ChatRequestParameters p = request.parameters();
        refuseUnsupported(p);
        if (p.modelName() != null && !p.modelName().equals(model.name())) {
            throw new IllegalArgumentException("modelName " + p.modelName() + ": this model serves " + model.name() + " only");
        }
        double temperature = p.temperature() != null ? p.temperature() : defaults.temperature();
        double topP = p.topP() != null ? p.topP() : defaults.topP();
        int topK = p.topK() != null ? p.topK() : defaults.topK();
        long seed = defaults.seed() != null ? defaults.seed() : ThreadLocalRandom.current().nextLong();
        SamplingOptions sampling = RequestDefaults.sampling(temperature, topP, topK, defaults.minP(), seed);
        int[] prompt = model.formatter().tokens(messages(request.messages()));
        int room = model.contextLength() - prompt.length;
        if (room < 1) {
            throw new IllegalArgumentException("the conversation is " + prompt.length + " tokens long with its template; the context holds "
                    + model.contextLength() + " positions, which must leave room for at least one token of reply");
        }
        Integer max = p.maxOutputTokens();
        if (max != null && max < 1) throw new IllegalArgumentException("maxOutputTokens must be >= 1, got " + max);
        List<String> stop = p.stopSequences() == null ? List.of() : p.stopSequences();
        for (String s : stop) if (s == null || s.isEmpty()) throw new IllegalArgumentException("stopSequences: an empty string (or null) would end every reply at once");
        return new GenerationRequest(prompt, max != null ? Math.min(max, room) : room, sampling, stop, Duration.ZERO);
    }

    private static void refuseUnsupported(ChatRequestParameters p) {
        if (p.toolSpecifications() != null && !p.toolSpecifications().isEmpty()) {
            throw new UnsupportedFeatureException("tools are not supported by Corvus's in-process models (the request has "
                    + p.toolSpecifications().size() + " tool specifications)");
        }
        if (p.toolChoice() == ToolChoice.REQUIRED) throw new UnsupportedFeatureException("toolChoice REQUIRED: tools are not supported by Corvus's in-process models");
        if (p.responseFormat() != null && p.responseFormat().type() == ResponseFormatType.JSON) {
            throw new UnsupportedFeatureException("responseFormat JSON (and JSON schemas) are not supported by Corvus's in-process models: the reply is plain text");
        }
        if (p.frequencyPenalty() != null && p.frequencyPenalty() != 0) {
            throw new UnsupportedFeatureException("frequencyPenalty is not supported by Corvus's in-process models (got " + p.frequencyPenalty() + ")");
        }
        if (p.presencePenalty() != null && p.presencePenalty() != 0) {
            throw new UnsupportedFeatureException("presencePenalty is not supported by Corvus's in-process models (got " + p.presencePenalty() + ")");
        }
    }

    /** LangChain4j's messages as the chat template's turns: text only. */
    static List<ChatMessage> messages(List<dev.langchain4j.data.message.ChatMessage> messages) {
        if (messages == null || messages.isEmpty()) throw new IllegalArgumentException("the request has no messages");
        List<ChatMessage> out = new ArrayList<>(messages.size());
        for (int i = 0; i < messages.size(); i++) {
            out.add(switch (messages.get(i)) {
                case SystemMessage s -> ChatMessage.system(s.text());
                case UserMessage u when u.hasSingleText() -> ChatMessage.user(u.singleText());
                case UserMessage u -> throw new UnsupportedFeatureException("message " + i + ": only text is supported by Corvus's in-process models,"
                        + " the user message has " + u.contents().stream().map(c -> c.type().name()).toList());
                case AiMessage a when a.hasToolExecutionRequests() -> throw new UnsupportedFeatureException("message " + i
                        + ": an AI message with tool execution requests; tools are not supported by Corvus's in-process models");
                case AiMessage a -> ChatMessage.assistant(a.text() == null ? "" : a.text());
                case null -> throw new IllegalArgumentException("message " + i + " is null");
                default -> throw new UnsupportedFeatureException("message " + i + ": " + messages.get(i).type()
                        + " messages are not supported by Corvus's in-process models (only system, user and AI text)");
            });
        }
        return out;
    }

    ChatResponse response(Completion c) {
        return ChatResponse.builder()
                .aiMessage(AiMessage.from(c.text()))
                .modelName(model.name())
                .tokenUsage(new TokenUsage(c.promptTokens(), c.completionTokens()))
                .finishReason(finishReason(c.finishReason()))
                .build();
    }

    static FinishReason finishReason(dev.corvus.engine.FinishReason f) {
        return switch (f) {
            case STOP -> FinishReason.STOP;
            case LENGTH -> FinishReason.LENGTH;
            case CANCELLED, TIMEOUT -> FinishReason.OTHER;
        };
    }
}
