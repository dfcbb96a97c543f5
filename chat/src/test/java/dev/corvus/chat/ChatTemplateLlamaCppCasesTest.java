package dev.corvus.chat;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.model.LlamaCpp;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * llama.cpp's own chat-template test data: tests/test-chat-template.cpp lists templates of 30-odd
 * model families with the prompt its Jinja path must produce for one conversation (system, then
 * three user and two assistant turns, one with padding spaces) and the model's BOS/EOS texts.
 * The cases are read from that file as data and rendered with {@link ChatTemplate#apply}, which,
 * like llama.cpp's common_chat path, folds the system message into the first turn for templates
 * without a system role.
 */
class ChatTemplateLlamaCppCasesTest {
    /** The conversation the C++ test renders for every case (its extra turns come after). */
    private static final List<ChatMessage> CONVERSATION = List.of(ChatMessage.system("You are a helpful assistant"), ChatMessage.user("Hello"),
            ChatMessage.assistant("Hi there"), ChatMessage.user("Who are you"), ChatMessage.assistant("   I am an assistant   "),
            ChatMessage.user("Another question"));

    record Case(String name, String template, String expected, String bos, String eos, List<ChatMessage> extra) {
        @Override
        public String toString() {
            return name;
        }
    }

    private static final Pattern FIELD = Pattern.compile("/\\*\\s*\\.(\\w+)=?\\s*\\*/\\s*");

    /** The cases of test-chat-template.cpp: fields named by their {@code /* .field= *\/} comments. */
    static List<Case> cases() throws IOException {
        Path file = LlamaCpp.sourceFile("tests/test-chat-template.cpp");
        String src = Files.readString(file);
        List<Map<String, Object>> raw = new ArrayList<>();
        Matcher m = FIELD.matcher(src);
        while (m.find()) {
            String field = m.group(1);
            if (field.equals("name")) raw.add(new LinkedHashMap<>());
            if (raw.isEmpty()) continue;
            int at = m.end();
            Object value;
            if (field.equals("extra_conversation")) value = turns(src, at);
            else if (field.equals("supported_with_jinja")) value = src.startsWith("true", at);
            else value = cString(src, at);
            raw.getLast().put(field, value);
        }
        List<Case> out = new ArrayList<>();
        for (Map<String, Object> c : raw) {
            if (Boolean.FALSE.equals(c.get("supported_with_jinja"))) continue; // llama.cpp skips these on its Jinja path too
            String jinja = (String) c.getOrDefault("expected_output_jinja", "");
            @SuppressWarnings("unchecked")
            List<ChatMessage> extra = (List<ChatMessage>) c.getOrDefault("extra_conversation", List.of());
            out.add(new Case((String) c.get("name"), (String) c.get("template_str"), jinja.isEmpty() ? (String) c.get("expected_output") : jinja,
                    (String) c.getOrDefault("bos_token", ""), (String) c.getOrDefault("eos_token", ""), extra));
        }
        return out;
    }

    /** The C string literal at {@code at} (optionally inside U8C(...)), its escapes decoded. */
    private static String cString(String src, int at) {
        if (src.startsWith("U8C(", at)) at += 4;
        if (src.charAt(at) != '"') throw new AssertionError("test-chat-template.cpp: expected a string literal at offset " + at);
        StringBuilder b = new StringBuilder();
        for (int i = at + 1; ; i++) {
            char c = src.charAt(i);
            if (c == '"') return b.toString();
            if (c != '\\') {
                b.append(c);
                continue;
            }
            char e = src.charAt(++i);
            b.append(switch (e) {
                case 'n' -> '\n';
                case 't' -> '\t';
                case 'r' -> '\r';
                case '"', '\\', '\'' -> e;
                default -> throw new AssertionError("test-chat-template.cpp: unexpected escape \\" + e + " at offset " + i);
            });
        }
    }

    /** {@code {{"role", "content"}, ...}}: the extra turns some cases append (strings may hold braces). */
    private static List<ChatMessage> turns(String src, int at) {
        List<ChatMessage> out = new ArrayList<>();
        int i = skip(src, at);
        if (src.charAt(i) != '{') throw new AssertionError("test-chat-template.cpp: expected {{ at offset " + i);
        for (i = skip(src, i + 1); src.charAt(i) == '{'; ) {
            int roleAt = skip(src, i + 1);
            String role = cString(src, roleAt);
            int comma = skip(src, endOfString(src, roleAt));
            if (src.charAt(comma) != ',') throw new AssertionError("test-chat-template.cpp: expected , at offset " + comma);
            int contentAt = skip(src, comma + 1);
            String content = cString(src, contentAt);
            out.add(new ChatMessage(role, content));
            i = skip(src, skip(src, endOfString(src, contentAt)) + 1); // past the pair's }
            if (src.charAt(i) == ',') i = skip(src, i + 1);
        }
        return out;
    }

    private static int skip(String src, int i) {
        while (Character.isWhitespace(src.charAt(i))) i++;
        return i;
    }

    /** The offset just past the string literal starting at {@code at}. */
    private static int endOfString(String src, int at) {
        for (int i = at + 1; ; i++) {
            if (src.charAt(i) == '\\') i++;
            else if (src.charAt(i) == '"') return i + 1;
        }
    }

    @Test
    void theCppFileStillHasTheCases() throws IOException {
        assertThat(cases()).hasSizeGreaterThan(25).allSatisfy(c -> {
            assertThat(c.template()).as(c.name()).isNotBlank();
            assertThat(c.expected()).as(c.name()).isNotBlank();
        });
    }

    static Stream<Case> caseStream() throws IOException {
        return cases().stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("caseStream")
    void rendersTheConversationAsLlamaCppExpects(Case c) {
        List<ChatMessage> conversation = new ArrayList<>(CONVERSATION);
        conversation.addAll(c.extra());
        ChatTemplate t = ChatTemplate.of(c.template(), "test-chat-template.cpp: " + c.name(), c.bos(), c.eos());
        assertThat(t.apply(conversation, true)).isEqualTo(c.expected());
    }
}
