package dev.corvus.chat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The engine's Jinja behaviour on small templates, each expectation being what Python's Jinja2
 * with transformers' settings prints for it (checked against Jinja2 3.1 when written; the
 * real-template tests compare whole prompts).
 */
class ChatTemplateTest {
    private static final List<ChatMessage> TWO_TURNS = List.of(ChatMessage.user("Hello"), ChatMessage.assistant("Hi there"));

    private static String render(String template) {
        return ChatTemplate.of(template, "test template", "<s>", "</s>").render(TWO_TURNS, true);
    }

    static Stream<Arguments> pythonSemantics() {
        return Stream.of(
                // str methods: Python's meaning, not Java's (split takes no regex and keeps trailing empties)
                Arguments.of("{{ 'a</think>'.split('</think>')[-1] }}|", "|"),
                Arguments.of("{{ 'a</think>b'.split('</think>')[-1] }}", "b"),
                Arguments.of("{{ ' x \t y  '.split() | join(',') }}", "x,y"),
                Arguments.of("{{ 'a.b'.split('.') | join(',') }}", "a,b"),
                Arguments.of("{{ 'a,b,c'.split(',', 1) | join('|') }}", "a|b,c"),
                Arguments.of("{{ 'a,b,c'.rsplit(',', 1) | join('|') }}", "a,b|c"),
                Arguments.of("{{ '\\n\\nhi\\n'.lstrip('\\n') }}|", "hi\n|"),
                Arguments.of("{{ 'xxhixx'.strip('x') }}|{{ '  hi  '.rstrip() }}|{{ ' hi '.strip() }}|", "hi|  hi|hi|"),
                Arguments.of("{% if 'tool_call'.startswith('tool') and 'a.py'.endswith(('.js', '.py')) %}yes{% endif %}", "yes"),
                Arguments.of("{% if not 'abc'.startswith('b') and 'abc'.startswith('b', 1) %}yes{% endif %}", "yes"),
                Arguments.of("{{ 'hello wORLD'.title() }}|{{ 'hELLO wORLD'.capitalize() }}|{{ 'aB'.upper() }}{{ 'aB'.lower() }}", "Hello World|Hello world|ABab"),
                Arguments.of("{{ 'aaa'.replace('a', 'b', 2) }}|{{ 'abcabc'.count('bc') }}|{{ 'abc'.find('c') }}{{ 'abc'.find('z') }}", "bba|2|2-1"),
                Arguments.of("{{ '-'.join(['a', 'b']) }}|{{ '<{}|{0}>'.format('x') }}|{{ '{{}}'.format() }}", "a-b|<x|x>|{}"),
                // slices, steps and out-of-range bounds included
                Arguments.of("{{ [1, 2, 3, 4, 5][::-1] | join(',') }}", "5,4,3,2,1"),
                Arguments.of("{{ [1, 2, 3, 4, 5][1:4:2] | join(',') }}|{{ [1, 2, 3, 4, 5][4:0:-2] | join(',') }}", "2,4|5,3"),
                Arguments.of("{{ [1, 2, 3, 4, 5][-2:] | join(',') }}|{{ [1, 2, 3][:-10] | join(',') }}|{{ [1, 2, 3][1:99] | join(',') }}", "4,5||2,3"),
                Arguments.of("{{ 'héllo'[::-1] }}|{{ 'abcdef'[-3:] }}|{{ 'abc'[:-1] }}", "olléh|def|ab"),
                Arguments.of("{{ (messages[::-1] | first).content }}", "Hi there"),
                // grammar: x+1 adds, keyword values are whole expressions, `not` is looser than ==
                Arguments.of("{% set x = 2 %}{{ x+1 }},{{ x-1 }},{{ x*2+1 }}", "3,1,5"),
                Arguments.of("{% set ns = namespace(last=messages|length - 1, flag=true) %}{{ ns.last }}", "1"),
                Arguments.of("{% set b = -1 %}{% if not b == -1 %}no{% else %}yes{% endif %}", "yes"),
                Arguments.of("{% if not 1 in [2] and not false %}yes{% endif %}", "yes"),
                Arguments.of("[{{ '  ' * 2 }}]{{ 3 * 'ab' }}|{{ ([1, 2] * 2) | join(',') }}|{{ 6 * 7 }}|{{ 1.5 * 2 }}", "[    ]ababab|1,2,1,2|42|3.0"),
                Arguments.of("{{ range(1500) | list | length }}|{{ range(5, -1, -2) | join(',') }}", "1500|5,3,1"),
                // tojson is json.dumps(ensure_ascii=False)
                Arguments.of("{{ {'name': 'f', 'args': [1, 2.5, true, none]} | tojson }}", "{\"name\": \"f\", \"args\": [1, 2.5, true, null]}"),
                // (a `}}` inside an expression ends it in Jinjava, unlike Jinja: `{} }` keeps them apart)
                Arguments.of("{{ {'a': [1], 'b': {} } | tojson(indent=2) }}", "{\n  \"a\": [\n    1\n  ],\n  \"b\": {}\n}"),
                Arguments.of("{{ {'b': 1, 'a': 2} | tojson(sort_keys=true) }}|{{ 'é' | tojson }}", "{\"a\": 2, \"b\": 1}|\"é\""),
                // printing and iterating collections as Python does
                Arguments.of("{{ [1, 'a'] }}|{{ {'a': 1} }}|{% for k in {'x': 1, 'y': 2} %}{{ k }}{% endfor %}", "[1, 'a']|{'a': 1}|xy"),
                Arguments.of("{% for k, v in {'a': 1, 'b': 2} | items %}{{ k }}={{ v }};{% endfor %}", "a=1;b=2;"),
                Arguments.of("{{ messages[0].get('missing', 'dflt') }}|{{ messages[0].get('role') }}", "dflt|user"),
                // whitespace: trim_blocks, lstrip_blocks, {{- -}} and {#- -#}, the final newline dropped
                Arguments.of("  {% if true %}\nx\n  {% endif %}\nend\n", "x\nend"),
                Arguments.of("a {{- ' b ' -}} c|a\n{#- note -#}\nb", "a b c|ab"),
                Arguments.of("{% for i in [1,2] %}\n  {{ i }}\n{% endfor %}\n", "  1\n  2\n"),
                // blocks and loop control
                Arguments.of("{% filter upper %}ab{% endfilter %}|{% generation %}G{% endgeneration %}", "AB|G"),
                Arguments.of("{% for i in [1, 2, 3] if i > 1 %}{{ i }}/{{ loop.length }}{% if loop.last %}.{% endif %}{% endfor %}", "2/23/2."),
                Arguments.of("{% for k, v in {'a': 1, 'b': none} | items if v is not none %}{{ k }}{% endfor %}|{% for m in messages if m.role == 'x' %}?{% endfor %}", "a|"),
                Arguments.of("{% for i in [] %}x{% else %}none{% endfor %}|{% for i in [1] %}x{% else %}none{% endfor %}", "none|x"),
                Arguments.of("{% for i in [1] if i > 5 %}x{% else %}none{% endfor %}|{% for i in [1] %}{% if i %}a{% else %}b{% endif %}{% endfor %}", "none|a"),
                Arguments.of("{% for i in range(5) %}{% if i == 3 %}{% break %}{% endif %}{% if i == 1 %}{% continue %}{% endif %}{{ i }}{% endfor %}", "02"),
                Arguments.of("{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(3) }}", "321"),
                // the standard variables
                Arguments.of("{{ bos_token }}|{{ eos_token }}|{% if add_generation_prompt %}gen{% endif %}|{{ messages | length }}", "<s>|</s>|gen|2"));
    }

    @ParameterizedTest
    @MethodSource("pythonSemantics")
    void rendersAsJinja2Does(String template, String expected) {
        assertThat(render(template)).isEqualTo(expected);
    }

    @Test
    void messageTextIsPrintedAsItIsNeverEvaluated() {
        ChatTemplate t = ChatTemplate.of("{% for m in messages %}[{{ m.content }}]{% endfor %}", "t", "", "");
        String text = "{{ 7 * 6 }} {% if %} {# c #} {{ raise_exception('no') }}";
        assertThat(t.render(List.of(ChatMessage.user(text)), true)).isEqualTo("[" + text + "]");
    }

    @Test
    void strftimeNowReadsTheTemplatesClockAndIsDefined() {
        Clock march7 = Clock.fixed(Instant.parse("2025-03-07T10:00:00Z"), ZoneOffset.UTC);
        ChatTemplate t = ChatTemplate.of("{% if strftime_now is defined %}{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d') }}{% endif %}",
                "t", "", "").withClock(march7);
        assertThat(t.render(TWO_TURNS, true)).isEqualTo("07 Mar 2025|2025-03-07");
    }

    @Test
    void extraVariablesReachTheTemplateButCannotReplaceTheStandardOnes() {
        ChatTemplate t = ChatTemplate.of("{{ 'think' if enable_thinking else 'plain' }}|{{ tools | length }}", "t", "", "");
        assertThat(t.render(TWO_TURNS, true, Map.of("enable_thinking", false, "tools", List.of(Map.of("name", "f"))))).isEqualTo("plain|1");
        assertThatThrownBy(() -> t.render(TWO_TURNS, true, Map.of("bos_token", "x"))).hasMessageContaining("bos_token");
    }

    @Test
    void raiseExceptionFailsWithTheTemplatesMessageOriginAndLine() {
        String template = "{% for m in messages %}\n{% if m.role == 'assistant' %}{{ raise_exception('Only user turns, please') }}{% endif %}{% endfor %}";
        assertThatThrownBy(() -> ChatTemplate.of(template, "model.gguf, key tokenizer.chat_template", "", "").render(TWO_TURNS, true))
                .isInstanceOf(ChatTemplateException.class)
                .hasMessage("model.gguf, key tokenizer.chat_template: the chat template failed to render at line 2: raise_exception(): Only user turns, please")
                .satisfies(e -> assertThat(((ChatTemplateException) e).line()).isEqualTo(2));
    }

    static Stream<String> brokenTemplates() {
        return Stream.of(
                "hello\n{% if %}x{% endif %}", // syntax error in a tag
                "{{ 1 + }}", // syntax error in an expression
                "{{ no_such_function() }}", // Jinjava would print nothing and carry on
                "{% frobnicate %}", // unknown tag
                "{{ messages[1:2:3:4] }}", // too many slice parts
                "{{ 'a'.split('') }}", // Python's ValueError
                "{{ [1, 2][::0] }}"); // zero step
    }

    @ParameterizedTest
    @MethodSource("brokenTemplates")
    void anEngineErrorFailsTheRenderInsteadOfYieldingAPartialPrompt(String template) {
        assertThatThrownBy(() -> ChatTemplate.of(template, "broken.jinja", "", "").render(TWO_TURNS, true))
                .isInstanceOf(ChatTemplateException.class)
                .hasMessageStartingWith("broken.jinja: the chat template failed to render")
                .hasMessageMatching("(?s).*at line \\d+: .+");
    }

    @Test
    void applyFoldsTheSystemMessageIntoTheFirstTurnWhenTheTemplateHasNoSystemRole() {
        List<ChatMessage> chat = List.of(ChatMessage.system("Be brief."), ChatMessage.user("Hi"));
        String ignores = "{% for m in messages %}{% if m.role == 'user' %}<u>{{ m.content }}</u>{% endif %}{% endfor %}";
        String refuses = "{% if messages[0].role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
                + "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}";
        String supports = "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}";

        ChatTemplate a = ChatTemplate.of(ignores, "t", "", ""), b = ChatTemplate.of(refuses, "t", "", ""), c = ChatTemplate.of(supports, "t", "", "");
        assertThat(a.supportsSystemRole()).isFalse();
        assertThat(a.apply(chat, true)).isEqualTo("<u>Be brief.\nHi</u>");
        assertThat(b.supportsSystemRole()).isFalse();
        assertThat(b.apply(chat, true)).isEqualTo("<user>Be brief.\nHi");
        assertThatThrownBy(() -> b.render(chat, true)).hasMessageContaining("System role not supported");
        assertThat(c.supportsSystemRole()).isTrue();
        assertThat(c.apply(chat, true)).isEqualTo("<system>Be brief.<user>Hi");
        assertThat(a.apply(List.of(ChatMessage.system("alone")), true)).isEmpty();
    }

    @Test
    void bosComesOnceAsAnIdWhetherTheTemplateOrTheVocabularyAsksForIt() {
        // the template printed it: cut from the text, the tokenizer adds the id
        assertThat(ChatPrompt.of("<s>[INST] hi [/INST]", "<s>", false)).isEqualTo(new ChatPrompt("[INST] hi [/INST]", true));
        assertThat(ChatPrompt.of("<s>[INST] hi [/INST]", "<s>", true)).isEqualTo(new ChatPrompt("[INST] hi [/INST]", true));
        // it did not: the vocabulary decides
        assertThat(ChatPrompt.of("<|im_start|>user\nhi", "<|endoftext|>", false)).isEqualTo(new ChatPrompt("<|im_start|>user\nhi", false));
        assertThat(ChatPrompt.of("<|user|>\nhi", "<s>", true)).isEqualTo(new ChatPrompt("<|user|>\nhi", true));
        // BOS text later in the prompt is the template's business
        assertThat(ChatPrompt.of("x<s>", "<s>", false)).isEqualTo(new ChatPrompt("x<s>", false));
        assertThat(ChatPrompt.of("hi", "", true)).isEqualTo(new ChatPrompt("hi", true));
    }

    @Test
    void pythonFloatReprAndStringEscapes() {
        assertThat(PyJson.pyFloat(1e16)).isEqualTo("1e+16");
        assertThat(PyJson.pyFloat(1e15)).isEqualTo("1000000000000000.0");
        assertThat(PyJson.pyFloat(1e-5)).isEqualTo("1e-05");
        assertThat(PyJson.pyFloat(0.0001)).isEqualTo("0.0001");
        assertThat(PyJson.pyFloat(123456789.0)).isEqualTo("123456789.0");
        assertThat(PyJson.pyFloat(0.1)).isEqualTo("0.1");
        assertThat(PyJson.pyFloat(-1.5e300)).isEqualTo("-1.5e+300");
        assertThat(PyJson.pyFloat(-0.0)).isEqualTo("-0.0");
        assertThat(PyJson.dumps("é\"\\\n\u0001\u2028", null, ", ", ": ", false)).isEqualTo("\"é\\\"\\\\\\n\\u0001\u2028\"");
        assertThat(PyJson.dumps(Map.of("k", List.of()), "\t", ",", ": ", false)).isEqualTo("{\n\t\"k\": []\n}");
    }
}
