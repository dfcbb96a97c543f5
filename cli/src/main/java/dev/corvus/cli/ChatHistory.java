package dev.corvus.cli;

import dev.corvus.chat.ChatFormatter;
import dev.corvus.chat.ChatMessage;
import java.util.ArrayList;
import java.util.List;

/**
 * The conversation of {@code corvus chat}: an optional system message and the exchanges so far,
 * kept within the context. Each new prompt must leave room for the reply; when it would not,
 * the oldest exchanges (a user turn and its reply) are dropped until it does. The system message
 * always stays.
 */
final class ChatHistory {
    private final ChatFormatter formatter;
    private String system;
    private final List<ChatMessage> turns = new ArrayList<>();

    ChatHistory(ChatFormatter formatter, String system) {
        this.formatter = formatter;
        this.system = system;
    }

    /** The prompt for the next user turn and how many earlier exchanges had to go to fit it. */
    record Prompt(int[] tokens, List<ChatMessage> messages, int droppedExchanges) {}

    /**
     * The prompt tokens of the conversation with {@code user} next, at most {@code budget} of them.
     *
     * @throws IllegalArgumentException when the system message and {@code user} alone are longer than {@code budget}
     */
    Prompt next(String user, int budget) {
        int dropped = 0;
        while (true) {
            List<ChatMessage> messages = messages(user, dropped);
            int[] tokens = formatter.tokens(messages);
            if (tokens.length <= budget) {
                if (dropped > 0) turns.subList(0, 2 * dropped).clear();
                return new Prompt(tokens, messages, dropped);
            }
            if (2 * (dropped + 1) > turns.size()) {
                throw new IllegalArgumentException("the message is " + tokens.length + " tokens long with the chat template"
                        + (system != null ? " and the system message" : "") + ", more than the " + budget
                        + " the context leaves for a prompt (raise --ctx, or lower --max-tokens)");
            }
            dropped++;
        }
    }

    private List<ChatMessage> messages(String user, int droppedExchanges) {
        List<ChatMessage> m = new ArrayList<>();
        if (system != null) m.add(ChatMessage.system(system));
        m.addAll(turns.subList(2 * droppedExchanges, turns.size()));
        m.add(ChatMessage.user(user));
        return m;
    }

    /** Records a finished exchange. */
    void add(String user, String reply) {
        turns.add(ChatMessage.user(user));
        turns.add(ChatMessage.assistant(reply));
    }

    /** Forgets the exchanges; the system message stays. */
    void reset() {
        turns.clear();
    }

    /** Replaces the system message (null: none); the exchanges stay. */
    void system(String text) {
        system = text;
    }

    boolean hasSystem() {
        return system != null;
    }
}
