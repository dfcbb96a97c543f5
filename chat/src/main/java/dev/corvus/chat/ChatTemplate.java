package dev.corvus.chat;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.filter.AdvancedFilter;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import com.hubspot.jinjava.lib.tag.Tag;
import com.hubspot.jinjava.objects.collections.PyList;
import com.hubspot.jinjava.objects.date.StrftimeFormatter;
import com.hubspot.jinjava.tree.Node;
import com.hubspot.jinjava.tree.TagNode;
import java.time.Clock;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import jinjava.javax.el.CompositeELResolver;

/**
 * A model's chat template (the GGUF key {@value #GGUF_KEY}, from the model's Hugging Face
 * {@code tokenizer_config.json}) rendered with HubSpot's Jinjava, set up to behave as Hugging
 * Face's transformers renders these templates ({@code apply_chat_template}) and as llama.cpp's
 * engine mirrors it:
 *
 * <ul>
 *   <li>{@code trim_blocks} and {@code lstrip_blocks} on, the template's final newline dropped
 *       ({@code keep_trailing_newline} off);
 *       {@code {{-}}/{@code -}}} trim around expressions and comments as around tags;
 *   <li>variables {@code messages}, {@code add_generation_prompt}, {@code bos_token},
 *       {@code eos_token}, plus whatever extra context the caller passes ({@code tools},
 *       {@code enable_thinking}, ...);
 *   <li>globals {@code raise_exception(msg)} (fails the render with the template's message) and
 *       {@code strftime_now(fmt)} (a defined variable, so {@code strftime_now is defined} holds);
 *   <li>{@code tojson} as Python's {@code json.dumps(ensure_ascii=False)} ({@link PyJson}), an
 *       {@code items} filter, {@code {% filter name %}} blocks, loop filters
 *       ({@code {% for x in xs if cond %}}, {@link FilteringForTag}), the {@code {% generation %}}
 *       block of transformers' assistant masks (rendered as its body), recursive macros;
 *   <li>Python's {@code str} methods ({@link PyStrMethods}) and {@code dict.get(key, default)},
 *       {@code items()}, {@code keys()} on the messages; the caller's values print as Python's
 *       repr ({@link PyRepr}).
 * </ul>
 *
 * <p>Jinjava records errors and keeps rendering; any fatal error here fails the render with a
 * {@link ChatTemplateException} naming {@link #origin()}, the line and the engine's message, so a
 * template the engine cannot handle is never silently turned into a wrong prompt.
 *
 * <p>Instances are immutable and may render from several threads.
 */
public final class ChatTemplate {
    /** The GGUF metadata key that holds the default chat template. */
    public static final String GGUF_KEY = "tokenizer.chat_template";

    private static final String RAISED = "raise_exception";
    private static final String STRFTIME_NOW = "strftime_now";

    private final String source;
    private final String rendered;
    private final SourceLines lines;
    private final String origin;
    private final String bosToken;
    private final String eosToken;
    private final Clock clock;
    private final Jinjava jinjava;

    private ChatTemplate(String source, String origin, String bosToken, String eosToken, Clock clock) {
        this.source = Objects.requireNonNull(source, "source");
        this.rendered = withoutFinalNewline(source);
        this.lines = new SourceLines(rendered);
        this.origin = Objects.requireNonNull(origin, "origin");
        this.bosToken = Objects.requireNonNull(bosToken, "bosToken");
        this.eosToken = Objects.requireNonNull(eosToken, "eosToken");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.jinjava = engine();
    }

    /**
     * @param source   the Jinja text
     * @param origin   where it came from, for errors: e.g. {@code "model.gguf, key tokenizer.chat_template"}
     * @param bosToken the text of the vocabulary's BOS token (the template's {@code bos_token}), "" if none
     * @param eosToken the text of its EOS token ({@code eos_token}), "" if none
     */
    public static ChatTemplate of(String source, String origin, String bosToken, String eosToken) {
        return new ChatTemplate(source, origin, bosToken, eosToken, Clock.systemDefaultZone());
    }

    /** The same template with {@code strftime_now} reading {@code clock} (tests pin the date). */
    public ChatTemplate withClock(Clock clock) {
        return new ChatTemplate(source, origin, bosToken, eosToken, clock);
    }

    public String source() {
        return source;
    }

    public String origin() {
        return origin;
    }

    public String bosToken() {
        return bosToken;
    }

    public String eosToken() {
        return eosToken;
    }

    /**
     * The prompt for a conversation as llama.cpp builds it: {@link #render} after one adaptation,
     * for templates that ignore or refuse a system message (Gemma's raise "System role not
     * supported", Phi-3-mini's skip it): the system text is prepended, with a newline, to the
     * turn after it, or dropped when nothing follows.
     */
    public String apply(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return render(supportsSystemRole() ? messages : withoutSystemRole(messages), addGenerationPrompt);
    }

    /** Whether a system message's text reaches the prompt: rendering one must succeed and show it (llama.cpp's probe, in spirit). */
    public boolean supportsSystemRole() {
        Boolean s = supportsSystemRole;
        if (s == null) {
            String needle = "<corvus system probe " + Long.toHexString(System.identityHashCode(this)) + ">";
            try {
                s = render(List.of(ChatMessage.system(needle), ChatMessage.user("User message")), false).contains(needle);
            } catch (ChatTemplateException e) {
                s = false;
            }
            supportsSystemRole = s;
        }
        return s;
    }

    private volatile Boolean supportsSystemRole;

    /** {@code messages} with a leading system message folded into the next turn as "system\nturn" (dropped if alone). */
    static List<ChatMessage> withoutSystemRole(List<ChatMessage> messages) {
        if (messages.isEmpty() || !messages.getFirst().role().equals("system")) return messages;
        List<ChatMessage> out = new ArrayList<>(messages.subList(1, messages.size()));
        if (!out.isEmpty()) {
            ChatMessage next = out.getFirst();
            out.set(0, new ChatMessage(next.role(), messages.getFirst().content() + "\n" + next.content()));
        }
        return out;
    }

    /** The prompt for {@code messages} as the template alone makes it; with {@code addGenerationPrompt}, ending where the assistant's reply starts. */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return render(messages, addGenerationPrompt, Map.of());
    }

    /**
     * As {@link #render(List, boolean)}, with {@code extra} variables (JSON-like values: String,
     * Number, Boolean, null, Map, List) beside the standard ones, which they may not replace.
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt, Map<String, ?> extra) {
        Map<String, Object> vars = new LinkedHashMap<>();
        extra.forEach((k, v) -> vars.put(k, py(v)));
        List<Object> msgs = new ArrayList<>();
        for (ChatMessage m : messages) {
            Map<String, Object> msg = new LinkedHashMap<>();
            msg.put("role", m.role());
            msg.put("content", m.content());
            msgs.add(new PyRepr.Dict(msg));
        }
        for (String reserved : List.of("messages", "add_generation_prompt", "bos_token", "eos_token", STRFTIME_NOW, RAISED)) {
            if (vars.containsKey(reserved)) throw new IllegalArgumentException("extra template variable " + reserved + " would replace the standard one");
        }
        vars.put("messages", new PyRepr.PList(msgs));
        vars.put("add_generation_prompt", addGenerationPrompt);
        vars.put("bos_token", bosToken);
        vars.put("eos_token", eosToken);
        vars.put(STRFTIME_NOW, new StrftimeNow(clock));

        RenderResult result;
        SourceLines.Tracker tracker = new SourceLines.Tracker();
        RENDERING.set(tracker);
        try {
            result = jinjava.renderForResult(rendered, vars);
        } catch (RuntimeException e) {
            Node at = tracker.culprit();
            throw failure(at == null ? 0 : lines.lineOf(at), message(e));
        } finally {
            RENDERING.remove();
        }
        for (TemplateError e : result.getErrors()) {
            if (e.getSeverity() != TemplateError.ErrorType.FATAL) continue;
            Node at = tracker.culprit();
            // no culprit node: the template did not parse; the error names the tag it was parsing, if any
            throw failure(at == null ? lines.lineOf(e.getFieldName(), e.getLineno()) : lines.lineOf(at), message(e));
        }
        return result.getOutput();
    }

    /** The render in progress on this thread, for the node pre-processor (Jinjava's config is shared, the render is not). */
    private static final ThreadLocal<SourceLines.Tracker> RENDERING = new ThreadLocal<>();

    /** Jinja's keep_trailing_newline=False: one newline at the very end of the template is not text. */
    private static String withoutFinalNewline(String s) {
        if (s.endsWith("\r\n")) return s.substring(0, s.length() - 2);
        if (s.endsWith("\n") || s.endsWith("\r")) return s.substring(0, s.length() - 1);
        return s;
    }

    private ChatTemplateException failure(int line, String message) {
        return new ChatTemplateException(origin + ": the chat template failed to render" + (line > 0 ? " at line " + line : "") + ": " + message, line);
    }

    /** The template's own words when it called raise_exception, else the engine's. */
    private static String message(TemplateError e) {
        String raised = raised(e.getException());
        return raised != null ? raised : e.getMessage();
    }

    private static String message(RuntimeException e) {
        String raised = raised(e);
        return raised != null ? raised : String.valueOf(e.getMessage());
    }

    private static String raised(Throwable t) {
        for (int depth = 0; t != null && depth < 16; t = t.getCause(), depth++) {
            if (t instanceof Raised r) return RAISED + "(): " + r.getMessage();
        }
        return null;
    }

    /** Values handed to the template as Jinjava's Python-like collections (so d.get(k, default) and l.append work). */
    private static Object py(Object v) {
        if (v instanceof Map<?, ?> m) {
            Map<String, Object> out = new LinkedHashMap<>();
            m.forEach((k, x) -> out.put(String.valueOf(k), py(x)));
            return new PyRepr.Dict(out);
        }
        if (v instanceof Collection<?> c) {
            List<Object> out = new ArrayList<>();
            c.forEach(x -> out.add(py(x)));
            return new PyRepr.PList(out);
        }
        if (v instanceof Integer || v instanceof Short || v instanceof Byte) return ((Number) v).longValue();
        if (v instanceof Float f) return f.doubleValue();
        return v;
    }

    private static Jinjava engine() {
        JinjavaConfig config = JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withLegacyOverrides(LegacyOverrides.newBuilder()
                        // {{- x -}} and {#- -#} strip whitespace as Jinja does (Jinjava's default strips only around tags)
                        .withUseTrimmingForNotesAndExpressions(true)
                        // {k: v} evaluates k, `for k in d` walks the keys, {{ [1, 'a'] }} prints Python's repr
                        .withEvaluateMapKeys(true)
                        .withIterateOverMapKeys(true)
                        .withUsePyishObjectMapper(true)
                        // the output's last newline stays: Jinja drops the template's (see #source), not the output's
                        .withDefaultKeepTrailingNewlineBehavior(true)
                        .build())
                .withKeepTrailingNewline(true)
                // Jinjava re-renders output that looks like a template by default: a user writing "{{ x }}" or
                // "{% if %}" would have it evaluated (or fail the render); Jinja prints text as it is
                .withNestedInterpretationEnabled(false)
                .withEnableRecursiveMacroCalls(true)
                .withMaxMacroRecursionDepth(64)
                .withElResolver(new CompositeELResolver() {
                    {
                        add(new PyStrMethods());
                        add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_ONLY);
                    }
                })
                // which node is rendering, so that errors name their true line (SourceLines)
                .withNodePreProcessor((node, interpreter) -> {
                    SourceLines.Tracker t = RENDERING.get();
                    if (t != null) t.enter(node, interpreter);
                })
                .withLocale(Locale.ENGLISH)
                .withMaxOutputSize(64L << 20)
                // Jinjava's default range() limit of 1000 would silently cut `for i in range(messages | length)`
                .withRangeLimit(1 << 20)
                .build();
        Jinjava j = new PyJinjava(config);
        try {
            j.getGlobalContext().registerFunction(new ELFunctionDefinition("", RAISED, ChatTemplate.class.getDeclaredMethod("raiseException", Object.class)));
            j.getGlobalContext().registerFunction(new ELFunctionDefinition("", STRFTIME_NOW, ChatTemplate.class.getDeclaredMethod("strftimeNow", Object.class)));
        } catch (NoSuchMethodException e) {
            throw new AssertionError(e);
        }
        j.getGlobalContext().registerFilter(new ToJson());
        j.getGlobalContext().registerFilter(new Items());
        j.getGlobalContext().registerTag(new Generation());
        j.getGlobalContext().registerTag(new FilterBlock());
        j.getGlobalContext().registerTag(new FilteringForTag());
        return j;
    }

    /** {@code raise_exception(message)}: the template refuses the conversation. */
    public static Object raiseException(Object message) {
        throw new Raised(String.valueOf(message));
    }

    private static final class Raised extends RuntimeException {
        Raised(String message) {
            super(message, null, false, false);
        }
    }

    /**
     * {@code strftime_now(format)}: the render's clock, local time, in Python's strftime format. The
     * function reads the clock from the variable of the same name, which also makes
     * {@code strftime_now is defined} true, as templates test before calling it.
     */
    public static String strftimeNow(Object format) {
        Object now = JinjavaInterpreter.getCurrentMaybe().map(i -> i.getContext().get(STRFTIME_NOW)).orElse(null);
        Clock clock = now instanceof StrftimeNow s ? s.clock() : Clock.systemDefaultZone();
        return StrftimeFormatter.format(ZonedDateTime.now(clock), String.valueOf(format), Locale.ENGLISH);
    }

    private record StrftimeNow(Clock clock) {
        @Override
        public String toString() {
            return "<function strftime_now>";
        }
    }

    /** {@code x | tojson(indent=None, separators=None, sort_keys=False)} as transformers binds it. */
    private static final class ToJson implements AdvancedFilter {
        @Override
        public String getName() {
            return "tojson";
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
            Object indentArg = kwargs.containsKey("indent") ? kwargs.get("indent") : args.length > 0 ? args[0] : null;
            String indent = switch (indentArg) {
                case null -> null;
                case Number n -> " ".repeat(Math.max(0, n.intValue()));
                default -> indentArg.toString();
            };
            String item = indent == null ? ", " : ",", key = ": ";
            if (kwargs.get("separators") instanceof List<?> seps && seps.size() == 2) {
                item = String.valueOf(seps.get(0));
                key = String.valueOf(seps.get(1));
            }
            boolean sort = Boolean.TRUE.equals(kwargs.get("sort_keys"));
            return PyJson.dumps(var, indent, item, key, sort);
        }
    }

    /** {@code d | items}: the (key, value) pairs of a mapping, as Jinja 3.1's filter. */
    private static final class Items implements AdvancedFilter {
        @Override
        public String getName() {
            return "items";
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
            if (var == null) return new PyList(new ArrayList<>());
            if (!(var instanceof Map<?, ?> m)) throw new IllegalArgumentException("items: expected a mapping, got " + var.getClass().getSimpleName());
            return new ArrayList<>(m.entrySet());
        }
    }

    /** {@code {% filter name %}...{% endfilter %}}: the body's text through a filter (Jinjava has no such tag). */
    private static final class FilterBlock implements Tag {
        @Override
        public String getName() {
            return "filter";
        }

        @Override
        public String interpret(TagNode tagNode, JinjavaInterpreter interpreter) {
            String name = tagNode.getHelpers().trim();
            Filter filter = interpreter.getContext().getFilter(name);
            if (filter == null) throw new IllegalArgumentException("{% filter " + name + " %}: no filter named " + name + " (only a bare filter name is supported)");
            StringBuilder b = new StringBuilder();
            for (Node child : tagNode.getChildren()) b.append(child.render(interpreter).getValue());
            return String.valueOf(filter.filter(b.toString(), interpreter));
        }
    }

    /** {@code {% generation %}...{% endgeneration %}}: transformers marks the assistant's tokens with it; the text is the body. */
    private static final class Generation implements Tag {
        @Override
        public String getName() {
            return "generation";
        }

        @Override
        public String interpret(TagNode tagNode, JinjavaInterpreter interpreter) {
            StringBuilder b = new StringBuilder();
            for (Node child : tagNode.getChildren()) b.append(child.render(interpreter).getValue());
            return b.toString();
        }
    }
}
