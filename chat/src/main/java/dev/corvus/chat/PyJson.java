package dev.corvus.chat;

import com.hubspot.jinjava.objects.SafeString;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The text of Python's {@code json.dumps(value, ensure_ascii=False, indent=..., separators=...,
 * sort_keys=...)}, which is what Hugging Face's transformers binds to the {@code tojson} filter
 * (llama.cpp's engine matches it). Jinjava's own {@code tojson} is Jackson's compact form
 * ({@code {"a":1}}); templates print tool schemas with it, so the spacing is part of the prompt
 * the model was trained on.
 */
final class PyJson {
    private PyJson() {}

    /** {@code indent}: null for one line, else the string each level adds (Python's int n is n spaces). */
    static String dumps(Object value, String indent, String itemSeparator, String keySeparator, boolean sortKeys) {
        StringBuilder b = new StringBuilder();
        new PyJson.Writer(b, indent, itemSeparator, keySeparator, sortKeys).write(value, 0);
        return b.toString();
    }

    private record Writer(StringBuilder b, String indent, String itemSeparator, String keySeparator, boolean sortKeys) {
        void write(Object v, int depth) {
            switch (v) {
                case null -> b.append("null");
                case Boolean x -> b.append(x ? "true" : "false");
                case Long x -> b.append(x);
                case Integer x -> b.append(x);
                case Short x -> b.append(x);
                case Byte x -> b.append(x);
                case BigInteger x -> b.append(x);
                case Double x -> b.append(pyFloat(x));
                case Float x -> b.append(pyFloat(x.doubleValue()));
                case BigDecimal x -> b.append(pyFloat(x.doubleValue()));
                case CharSequence x -> string(x.toString());
                case SafeString x -> string(x.toString());
                case Map<?, ?> m -> object(m, depth);
                case Iterable<?> it -> {
                    List<Object> items = new ArrayList<>();
                    it.forEach(items::add);
                    array(items, depth);
                }
                case Object[] arr -> array(List.of(arr), depth);
                case Map.Entry<?, ?> e -> array(java.util.Arrays.asList(e.getKey(), e.getValue()), depth);
                default -> throw new IllegalArgumentException("tojson: a " + v.getClass().getSimpleName() + " is not JSON serializable");
            }
        }

        private void array(List<?> items, int depth) {
            if (items.isEmpty()) {
                b.append("[]");
                return;
            }
            b.append('[');
            for (int i = 0; i < items.size(); i++) {
                if (i > 0) b.append(itemSeparator);
                newline(depth + 1);
                write(items.get(i), depth + 1);
            }
            newline(depth);
            b.append(']');
        }

        private void object(Map<?, ?> m, int depth) {
            if (m.isEmpty()) {
                b.append("{}");
                return;
            }
            Map<?, ?> entries = m;
            if (sortKeys) {
                TreeMap<String, Object> sorted = new TreeMap<>();
                m.forEach((k, val) -> sorted.put(key(k), val));
                entries = sorted;
            }
            b.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : entries.entrySet()) {
                if (!first) b.append(itemSeparator);
                first = false;
                newline(depth + 1);
                string(key(e.getKey()));
                b.append(keySeparator);
                write(e.getValue(), depth + 1);
            }
            newline(depth);
            b.append('}');
        }

        /** Python turns int, float, bool and None keys into strings; anything else is an error. */
        private static String key(Object k) {
            return switch (k) {
                case null -> "null";
                case Boolean x -> x ? "true" : "false";
                case Double x -> pyFloat(x);
                case CharSequence x -> x.toString();
                case Number x -> x.toString();
                case SafeString x -> x.toString();
                default -> throw new IllegalArgumentException("tojson: keys must be str, int, float, bool or None, not " + k.getClass().getSimpleName());
            };
        }

        private void newline(int depth) {
            if (indent == null) return;
            b.append('\n');
            b.append(indent.repeat(depth));
        }

        /** ensure_ascii=False: only the quote, the backslash and control characters are escaped. */
        private void string(String s) {
            b.append('"');
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                switch (c) {
                    case '"' -> b.append("\\\"");
                    case '\\' -> b.append("\\\\");
                    case '\n' -> b.append("\\n");
                    case '\r' -> b.append("\\r");
                    case '\t' -> b.append("\\t");
                    case '\b' -> b.append("\\b");
                    case '\f' -> b.append("\\f");
                    default -> {
                        if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
                        else b.append(c);
                    }
                }
            }
            b.append('"');
        }
    }

    /** Python's repr of a float: the shortest round-tripping digits, exponent form below 1e-4 and from 1e16. */
    static String pyFloat(double d) {
        if (Double.isNaN(d)) return "NaN";
        if (Double.isInfinite(d)) return d > 0 ? "Infinity" : "-Infinity";
        if (d == 0) return (1 / d < 0) ? "-0.0" : "0.0";
        // Double.toString gives the shortest digits that round-trip (JDK 19+), the same digits as Python's repr
        BigDecimal exact = new BigDecimal(Double.toString(Math.abs(d))).stripTrailingZeros();
        String digits = exact.unscaledValue().toString();
        int exponent = digits.length() - 1 - exact.scale(); // d = digits[0].digits[1:] x 10^exponent
        String sign = d < 0 ? "-" : "";
        if (exponent < -4 || exponent >= 16) {
            String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
            return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + (Math.abs(exponent) < 10 ? "0" : "") + Math.abs(exponent);
        }
        String plain = exact.toPlainString();
        return sign + (plain.contains(".") ? plain : plain + ".0");
    }
}
