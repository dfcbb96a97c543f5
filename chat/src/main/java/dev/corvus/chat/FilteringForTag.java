package dev.corvus.chat;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.tag.ForTag;
import com.hubspot.jinjava.tree.Node;
import com.hubspot.jinjava.tree.TagNode;
import com.hubspot.jinjava.tree.parse.TagToken;
import com.hubspot.jinjava.util.ForLoop;
import com.hubspot.jinjava.util.ObjectIterator;
import com.hubspot.jinjava.util.ObjectTruthValue;
import java.util.ArrayList;
import java.util.LinkedList;
import java.util.List;
import java.util.Map;

/**
 * Jinja's {@code for} where Jinjava's differs: {@code {% for x in seq if cond %}} filters, and
 * {@code {% else %}} renders when nothing was looped over (Jinjava renders it inside the body).
 *
 * <p>The loop filter: Jinjava lacks it. Jinjava reads
 * {@code seq if cond} as a conditional expression and loops over all of {@code seq} (Qwen3-Coder's
 * {@code for json_key in json_dict if json_key not in handled_keys} then printed every key twice).
 * Here the items are filtered first, the condition seeing each one in the loop variables, and the
 * loop ({@code loop.index}, {@code loop.last}, {@code else}) runs over what is kept, as in Jinja.
 * In Jinja a loop's iterable cannot be a bare conditional expression, so the first {@code if}
 * outside brackets and strings always starts the filter.
 */
final class FilteringForTag extends ForTag {
    private static final long serialVersionUID = 1L;

    @Override
    public String interpretUnchecked(TagNode tagNode, JinjavaInterpreter interpreter) {
        TagToken token = (TagToken) tagNode.getMaster();
        var varsAndExpression = getLoopVarsAndExpression(token);
        List<String> vars = varsAndExpression.getLeft();
        String expression = varsAndExpression.getRight();
        int at = filterKeyword(expression);
        Object items = interpreter.resolveELExpression(at < 0 ? expression : expression.substring(0, at).trim(), tagNode.getLineNumber());
        if (at >= 0) {
            String condition = expression.substring(at + 2).trim();
            List<Object> kept = new ArrayList<>();
            try (var scope = interpreter.enterScope()) {
                for (ForLoop loop = ObjectIterator.getLoop(items); loop.hasNext(); ) {
                    Object item = loop.next();
                    bind(vars, item, interpreter);
                    if (ObjectTruthValue.evaluate(interpreter.resolveELExpression(condition, tagNode.getLineNumber()))) kept.add(item);
                }
            }
            items = kept;
        }

        // {% else %}: Jinjava has none for loops and would render it as part of the body
        LinkedList<Node> body = new LinkedList<>();
        List<Node> orElse = null;
        for (Node child : tagNode.getChildren()) {
            if (orElse == null && child instanceof TagNode t && "else".equals(t.getName())) orElse = new ArrayList<>();
            else (orElse == null ? body : orElse).add(child);
        }
        if (orElse == null) return renderForCollection(tagNode, interpreter, vars, items);
        if (!ObjectIterator.getLoop(items).hasNext()) {
            StringBuilder b = new StringBuilder();
            for (Node n : orElse) b.append(n.render(interpreter).getValue());
            return b.toString();
        }
        TagNode loopOnly = new TagNode(this, token, tagNode.getSymbols());
        loopOnly.setChildren(body);
        return renderForCollection(loopOnly, interpreter, vars, items);
    }

    /** The loop variables for {@code item}: itself, or a (key, value) entry's or a list's parts. */
    private static void bind(List<String> vars, Object item, JinjavaInterpreter interpreter) {
        if (vars.size() == 1) {
            interpreter.getContext().put(vars.getFirst(), item);
        } else if (item instanceof Map.Entry<?, ?> e) {
            interpreter.getContext().put(vars.get(0), e.getKey());
            interpreter.getContext().put(vars.get(1), e.getValue());
        } else if (item instanceof List<?> l) {
            for (int i = 0; i < vars.size(); i++) interpreter.getContext().put(vars.get(i), i < l.size() ? l.get(i) : null);
        }
    }

    /** The offset of the word {@code if} at the top level of {@code s} (outside brackets and strings), or -1. */
    static int filterKeyword(String s) {
        int depth = 0;
        char quote = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (quote != 0) {
                if (c == '\\') i++;
                else if (c == quote) quote = 0;
            } else if (c == '\'' || c == '"') {
                quote = c;
            } else if (c == '(' || c == '[' || c == '{') {
                depth++;
            } else if (c == ')' || c == ']' || c == '}') {
                depth--;
            } else if (depth == 0 && s.startsWith("if", i) && (i == 0 || !isWordChar(s.charAt(i - 1)))
                    && (i + 2 == s.length() || !isWordChar(s.charAt(i + 2)))) {
                return i;
            }
        }
        return -1;
    }

    private static boolean isWordChar(char c) {
        return Character.isLetterOrDigit(c) || c == '_';
    }
}
