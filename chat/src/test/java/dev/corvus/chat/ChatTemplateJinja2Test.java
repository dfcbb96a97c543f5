package dev.corvus.chat;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.corvus.model.LlamaCpp;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Differential test against the reference implementation: every chat template llama.cpp ships
 * (models/templates/ and the vocabulary GGUFs' own), for several conversations, rendered here and
 * by Python's Jinja2 configured as transformers configures it (src/test/resources/.../
 * jinja2_render.py). Where Jinja2 renders, the prompts must be identical; where the template
 * raises, both must fail with its message. Jinja2's other failures (a template that needs more
 * than it is given, Jinja2's stricter undefined variables) are left out, and most pairs must be
 * compared; two known differences are listed in {@link #KNOWN}. Skipped
 * when python3 with jinja2 is not installed (Debian: python3-jinja2).
 */
class ChatTemplateJinja2Test {
    private static final String NOW = "2025-03-07T10:00:00";
    private static final Clock CLOCK = Clock.fixed(Instant.parse(NOW + "Z"), ZoneOffset.UTC);

    private record Scenario(String name, List<ChatMessage> messages, boolean addGenerationPrompt, Map<String, Object> extra) {
        Scenario(String name, List<ChatMessage> messages, boolean addGenerationPrompt) {
            this(name, messages, addGenerationPrompt, Map.of());
        }
    }

    /** An OpenAI-style tool list, as a server would pass it: templates print it with tojson, items, dictsort. */
    private static final List<Object> TOOLS = List.of(Map.of("type", "function", "function", new LinkedHashMap<>(Map.of(
            "name", "get_weather",
            "description", "The weather in a city",
            "parameters", Map.of("type", "object", "properties", Map.of("city", Map.of("type", "string", "description", "Its name")),
                    "required", List.of("city"))))));

    private static final List<Scenario> SCENARIOS = List.of(
            new Scenario("system+user", List.of(ChatMessage.system("Answer in French."), ChatMessage.user("Hello")), true),
            new Scenario("multi-turn", List.of(ChatMessage.user("Hello"), ChatMessage.assistant("Hi there"), ChatMessage.user("Who are you")), true),
            new Scenario("multi-turn, system, no generation prompt", List.of(ChatMessage.system("Be brief."), ChatMessage.user("Hello"),
                    ChatMessage.assistant("   Hi there   "), ChatMessage.user("Who are you"), ChatMessage.assistant("An assistant.")), false),
            new Scenario("awkward text", List.of(ChatMessage.user("  Ünïcødé \"quotes\" \\ {braces} {{ x }} {% if %} <|im_end|>\n\nline 2\t "),
                    ChatMessage.assistant("é\n"), ChatMessage.user("")), true),
            new Scenario("reasoning in history", List.of(ChatMessage.user("2+2?"), ChatMessage.assistant("<think>\nAdd them.\n</think>\n\n4"),
                    ChatMessage.user("And 3+3?")), true),
            new Scenario("tools", List.of(ChatMessage.system("Use tools."), ChatMessage.user("Weather in Paris?")), true, Map.of("tools", TOOLS)));

    /**
     * Known differences, each checked to still differ (so a fix shows up here). Both are in the
     * tool-description parts of their templates, not in the conversation.
     */
    private static final Map<String, String> KNOWN = Map.of(
            "ByteDance-Seed-OSS.jinja [tools]", "Jinjava lets {%- strip whitespace back across a {# comment #}; Jinja stops at the comment",
            "meetkai-functionary-medium-v3.1.jinja [tools]", "Jinja2 HTML-escapes a plain string added to a |safe one (Markup + str): transformers'"
                    + " prompt has &#34; for the tool's JSON quotes, llama.cpp's and ours have \"");

    private record Job(String template, Scenario scenario, String bos, String eos, String templateSource) {}

    private static boolean hasJinja2() {
        try {
            Process p = new ProcessBuilder("python3", "-c", "import jinja2").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private static List<Job> jobs() throws IOException {
        List<Job> jobs = new ArrayList<>();
        List<Path> files;
        try (var s = Files.list(LlamaCpp.source().resolve("models/templates"))) {
            files = s.filter(p -> p.toString().endsWith(".jinja")).sorted().toList();
        }
        for (Path f : files) {
            String source = Files.readString(f);
            for (Scenario sc : SCENARIOS) jobs.add(new Job(f.getFileName().toString(), sc, "<s>", "</s>", source));
        }
        for (String vocab : List.of("qwen2", "qwen35", "phi-3", "gemma-4", "command-r")) {
            GgufChat meta = GgufChat.forModel(LlamaCpp.vocab(vocab));
            String source = meta.template().orElseThrow(() -> new AssertionError("ggml-vocab-" + vocab + ".gguf has no chat template"));
            for (Scenario sc : SCENARIOS) jobs.add(new Job("ggml-vocab-" + vocab + ".gguf", sc, meta.bosToken(), meta.eosToken(), source));
        }
        assertThat(jobs).as("templates under " + LlamaCpp.source().resolve("models/templates")).hasSizeGreaterThan(100);
        return jobs;
    }

    private static Map<String, Object> vars(Job j) {
        Map<String, Object> v = new LinkedHashMap<>();
        List<Object> msgs = new ArrayList<>();
        for (ChatMessage m : j.scenario().messages()) msgs.add(Map.of("role", m.role(), "content", m.content()));
        v.put("messages", msgs);
        v.put("add_generation_prompt", j.scenario().addGenerationPrompt());
        v.put("bos_token", j.bos());
        v.put("eos_token", j.eos());
        v.putAll(j.scenario().extra());
        return v;
    }

    @Test
    void everyShippedTemplateRendersAsJinja2Does(@TempDir Path dir) throws Exception {
        Assumptions.assumeTrue(hasJinja2(), "python3 with jinja2 is not installed (Debian: apt-get install python3-jinja2)");
        List<Job> jobs = jobs();
        List<Object> input = new ArrayList<>();
        for (Job j : jobs) input.add(Map.of("template", j.templateSource(), "vars", vars(j), "now", NOW));
        Path in = dir.resolve("jobs.json"), out = dir.resolve("results.json"), script = dir.resolve("jinja2_render.py");
        Files.writeString(in, PyJson.dumps(input, null, ", ", ": ", false));
        try (InputStream s = ChatTemplateJinja2Test.class.getResourceAsStream("jinja2_render.py")) {
            Files.write(script, s.readAllBytes());
        }
        Process p = new ProcessBuilder("python3", script.toString(), in.toString(), out.toString()).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor(300, TimeUnit.SECONDS)).as("jinja2_render.py finished").isTrue();
        assertThat(p.exitValue()).as(log).isZero();
        JsonNode results = new ObjectMapper().readTree(out.toFile());
        assertThat(results.size()).isEqualTo(jobs.size());

        List<String> mismatches = new ArrayList<>(), known = new ArrayList<>();
        int compared = 0;
        for (int i = 0; i < jobs.size(); i++) {
            Job j = jobs.get(i);
            JsonNode r = results.get(i);
            String what = j.template() + " [" + j.scenario().name() + "]";
            ChatTemplate t = ChatTemplate.of(j.templateSource(), j.template(), j.bos(), j.eos()).withClock(CLOCK);
            String ours;
            try {
                ours = t.render(j.scenario().messages(), j.scenario().addGenerationPrompt(), j.scenario().extra());
            } catch (ChatTemplateException e) {
                ours = null;
                if (r.get("ok").asBoolean()) mismatches.add(what + ": Jinja2 renders it, Corvus fails: " + e.getMessage());
                else if (r.get("raised").asBoolean()) {
                    compared++;
                    if (!e.getMessage().contains("raise_exception(): " + r.get("error").asText())) {
                        mismatches.add(what + ": the template raised \"" + r.get("error").asText() + "\", Corvus failed otherwise: " + e.getMessage());
                    }
                }
                continue;
            }
            if (r.get("ok").asBoolean()) {
                compared++;
                String expected = r.get("text").asText();
                boolean differs = !expected.equals(ours);
                if (KNOWN.containsKey(what)) {
                    if (differs) known.add(what);
                    else mismatches.add(what + ": listed as a known difference (" + KNOWN.get(what) + ") but now renders as Jinja2 does");
                } else if (differs) {
                    mismatches.add(what + ": differs from Jinja2 " + firstDifference(expected, ours));
                }
            } else if (r.get("raised").asBoolean()) {
                mismatches.add(what + ": the template raised \"" + r.get("error").asText() + "\" in Jinja2, Corvus rendered it");
            }
        }
        assertThat(mismatches).as("templates rendering differently from Jinja2").isEmpty();
        assertThat(known).as("the known differences were all exercised").containsExactlyInAnyOrderElementsOf(KNOWN.keySet());
        assertThat(compared).as("pairs compared out of " + jobs.size()).isGreaterThan(jobs.size() * 8 / 10);
    }

    private static String firstDifference(String expected, String actual) {
        int i = 0;
        while (i < expected.length() && i < actual.length() && expected.charAt(i) == actual.charAt(i)) i++;
        int from = Math.max(0, i - 40);
        return "at char " + i + ": expected ..." + expected.substring(from, Math.min(expected.length(), i + 40)).replace("\n", "\\n")
                + "... but got ..." + actual.substring(from, Math.min(actual.length(), i + 40)).replace("\n", "\\n") + "...";
    }
}
