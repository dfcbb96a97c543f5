package dev.corvus.chat;

import com.hubspot.jinjava.objects.SafeString;
import com.hubspot.jinjava.objects.collections.PyList;
import com.hubspot.jinjava.objects.collections.PyMap;
import com.hubspot.jinjava.objects.serialization.PyishSerializable;
import java.io.IOException;
import java.util.List;
import java.util.Map;

/**
 * Python's {@code repr} for the values a caller hands a template ({@code tools}, messages), which
 * templates print as they are ({@code {{ tools }}}, {@code 'x' ~ tool}) and which Jinja prints
 * as Python would: {@code {'name': 'f', 'required': ['city']}}. Jinjava would print a map as Java
 * does ({@code {name=f}}) when concatenated, and space out closing braces when printed.
 */
final class PyRepr {
    private PyRepr() {}

    /** A mapping for the template: Jinjava's PyMap (get(k, default), items()), printed as Python's dict. */
    static final class Dict extends PyMap implements PyishSerializable {
        Dict(Map<String, Object> map) {
            super(map);
        }

        @Override
        public String toString() {
            return repr(this);
        }

        @Override
        @SuppressWarnings("unchecked")
        public <T extends Appendable & CharSequence> T appendPyishString(T appendable) throws IOException {
            return (T) appendable.append(repr(this));
        }
    }

    /** A list for the template: Jinjava's PyList (append, pop), printed as Python's list. */
    static final class PList extends PyList implements PyishSerializable {
        PList(List<Object> list) {
            super(list);
        }

        @Override
        public String toString() {
            return repr(this);
        }

        @Override
        @SuppressWarnings("unchecked")
        public <T extends Appendable & CharSequence> T appendPyishString(T appendable) throws IOException {
            return (T) appendable.append(repr(this));
        }
    }

    static String repr(Object v) {
        StringBuilder b = new StringBuilder();
        append(b, v);
        return b.toString();
    }

    private static void append(StringBuilder b, Object v) {
        switch (v) {
            case null -> b.append("None");
            case Boolean x -> b.append(x ? "True" : "False");
            case Double x -> b.append(PyJson.pyFloat(x));
            case Float x -> b.append(PyJson.pyFloat(x));
            case Number x -> b.append(x);
            case CharSequence x -> string(b, x.toString());
            case SafeString x -> string(b, x.toString());
            case Map<?, ?> m -> {
                b.append('{');
                boolean first = true;
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    if (!first) b.append(", ");
                    first = false;
                    append(b, e.getKey());
                    b.append(": ");
                    append(b, e.getValue());
                }
                b.append('}');
            }
            case Iterable<?> it -> {
                b.append('[');
                boolean first = true;
                for (Object x : it) {
                    if (!first) b.append(", ");
                    first = false;
                    append(b, x);
                }
                b.append(']');
            }
            default -> b.append(v);
        }
    }

    /** Python's quoting: single quotes unless the text has a ' and no ", escapes for \, the quote and control characters. */
    private static void string(StringBuilder b, String s) {
        char q = s.indexOf('\'') >= 0 && s.indexOf('"') < 0 ? '"' : '\'';
        b.append(q);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == q || c == '\\') b.append('\\').append(c);
            else if (c == '\n') b.append("\\n");
            else if (c == '\r') b.append("\\r");
            else if (c == '\t') b.append("\\t");
            else if (c < 0x20 || c == 0x7f) b.append(String.format("\\x%02x", (int) c));
            else b.append(c);
        }
        b.append(q);
    }
}
