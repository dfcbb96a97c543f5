package dev.corvus.chat;

import com.hubspot.jinjava.objects.SafeString;
import com.hubspot.jinjava.objects.collections.PyList;
import java.beans.FeatureDescriptor;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

/**
 * Python's {@code str} methods on template strings, as chat templates call them
 * ({@code content.split('</think>')[-1].lstrip('\n')}, {@code role.startswith('tool')}, ...).
 *
 * <p>Jinjava resolves {@code s.m(...)} to the Java method of {@link String}; some names miss
 * ({@code lstrip}, {@code startswith}) and some exist with other meanings: Java's {@code split}
 * takes a regex and drops trailing empty strings, so {@code 'a</think>'.split('</think>')[-1]}
 * would be {@code 'a'} instead of Python's {@code ''}. This resolver comes first and answers
 * the Python names with Python's semantics; anything else falls through to Jinjava's.
 */
final class PyStrMethods extends ELResolver {
    @Override
    public Object invoke(ELContext context, Object base, Object method, Class<?>[] paramTypes, Object[] params) {
        if (!(base instanceof String || base instanceof SafeString) || method == null) return null;
        Object[] a = params == null ? new Object[0] : params;
        Object r = call(base.toString(), method.toString(), a);
        if (r != NOT_A_METHOD) context.setPropertyResolved(true);
        return r == NOT_A_METHOD ? null : r;
    }

    private static final Object NOT_A_METHOD = new Object();

    /** {@code s.name(args)} as Python evaluates it, or {@link #NOT_A_METHOD}. */
    static Object call(String s, String name, Object[] a) {
        return switch (name) {
            case "strip" -> strip(s, chars(name, a), true, true);
            case "lstrip" -> strip(s, chars(name, a), true, false);
            case "rstrip" -> strip(s, chars(name, a), false, true);
            case "split" -> split(s, arg(a, 0), maxSplit(a));
            case "rsplit" -> rsplit(s, arg(a, 0), maxSplit(a));
            case "splitlines" -> new PyList(new ArrayList<>(s.lines().toList()));
            case "startswith" -> affix(s, name, a, true);
            case "endswith" -> affix(s, name, a, false);
            case "upper" -> s.toUpperCase(Locale.ROOT);
            case "lower" -> s.toLowerCase(Locale.ROOT);
            case "title" -> title(s);
            case "capitalize" -> s.isEmpty() ? s : s.substring(0, s.offsetByCodePoints(0, 1)).toUpperCase(Locale.ROOT)
                    + s.substring(s.offsetByCodePoints(0, 1)).toLowerCase(Locale.ROOT);
            case "replace" -> replace(s, str(name, a, 0), str(name, a, 1), a.length > 2 ? integer(name, a[2]) : -1);
            case "find" -> (long) s.indexOf(str(name, a, 0));
            case "rfind" -> (long) s.lastIndexOf(str(name, a, 0));
            case "count" -> count(s, str(name, a, 0));
            case "join" -> join(s, a.length == 1 ? a[0] : null);
            case "format" -> format(s, a);
            case "isdigit" -> !s.isEmpty() && s.chars().allMatch(Character::isDigit);
            case "isalpha" -> !s.isEmpty() && s.codePoints().allMatch(Character::isLetter);
            case "isalnum" -> !s.isEmpty() && s.codePoints().allMatch(Character::isLetterOrDigit);
            case "isspace" -> !s.isEmpty() && s.codePoints().allMatch(PyStrMethods::isSpace);
            case "isupper" -> s.codePoints().anyMatch(Character::isUpperCase) && s.codePoints().noneMatch(Character::isLowerCase);
            case "islower" -> s.codePoints().anyMatch(Character::isLowerCase) && s.codePoints().noneMatch(Character::isUpperCase);
            default -> NOT_A_METHOD;
        };
    }

    private static Object arg(Object[] a, int i) {
        return i < a.length ? a[i] : null;
    }

    private static String str(String method, Object[] a, int i) {
        if (i >= a.length || a[i] == null) throw new IllegalArgumentException("str." + method + "() is missing argument " + (i + 1));
        return a[i].toString();
    }

    private static long integer(String method, Object v) {
        if (v instanceof Number n) return n.longValue();
        throw new IllegalArgumentException("str." + method + "() expects an integer, got " + v);
    }

    private static String chars(String method, Object[] a) {
        if (a.length > 1) throw new IllegalArgumentException("str." + method + "() takes at most 1 argument, got " + a.length);
        return a.length == 0 || a[0] == null ? null : a[0].toString();
    }

    private static int maxSplit(Object[] a) {
        return a.length > 1 && a[1] != null ? (int) integer("split", a[1]) : -1;
    }

    /** Python's whitespace: str.isspace(). */
    private static boolean isSpace(int c) {
        return Character.isWhitespace(c) || Character.isSpaceChar(c) || (c >= 0x1c && c <= 0x1f) || c == 0x85;
    }

    private static String strip(String s, String chars, boolean left, boolean right) {
        int from = 0, to = s.length();
        if (left) while (from < to && stripped(s.charAt(from), chars)) from++;
        if (right) while (to > from && stripped(s.charAt(to - 1), chars)) to--;
        return s.substring(from, to);
    }

    private static boolean stripped(char c, String chars) {
        return chars == null ? isSpace(c) : chars.indexOf(c) >= 0;
    }

    private static PyList split(String s, Object sepArg, int max) {
        List<Object> parts = new ArrayList<>();
        if (sepArg == null) {
            // no separator: runs of whitespace, no empty strings at either end
            int i = 0, n = s.length();
            while (true) {
                while (i < n && isSpace(s.charAt(i))) i++;
                if (i == n) break;
                if (max >= 0 && parts.size() == max) {
                    parts.add(strip(s.substring(i), null, false, true));
                    break;
                }
                int j = i;
                while (j < n && !isSpace(s.charAt(j))) j++;
                parts.add(s.substring(i, j));
                i = j;
            }
        } else {
            String sep = sepArg.toString();
            if (sep.isEmpty()) throw new IllegalArgumentException("str.split(): empty separator");
            int from = 0;
            for (int at; (max < 0 || parts.size() < max) && (at = s.indexOf(sep, from)) >= 0; from = at + sep.length()) {
                parts.add(s.substring(from, at));
            }
            parts.add(s.substring(from));
        }
        return new PyList(parts);
    }

    private static PyList rsplit(String s, Object sepArg, int max) {
        if (max < 0) return split(s, sepArg, -1);
        List<Object> parts = new ArrayList<>();
        if (sepArg == null) {
            int j = s.length();
            while (true) {
                while (j > 0 && isSpace(s.charAt(j - 1))) j--;
                if (j == 0) break;
                if (parts.size() == max) {
                    parts.addFirst(strip(s.substring(0, j), null, true, false));
                    break;
                }
                int i = j;
                while (i > 0 && !isSpace(s.charAt(i - 1))) i--;
                parts.addFirst(s.substring(i, j));
                j = i;
            }
        } else {
            String sep = sepArg.toString();
            if (sep.isEmpty()) throw new IllegalArgumentException("str.rsplit(): empty separator");
            int to = s.length();
            for (int at; parts.size() < max && (at = s.lastIndexOf(sep, to - sep.length())) >= 0; to = at) {
                parts.addFirst(s.substring(at + sep.length(), to));
            }
            parts.addFirst(s.substring(0, to));
        }
        return new PyList(parts);
    }

    /** startswith/endswith with a string or a tuple (a list here) of candidates, and optional start/end. */
    private static boolean affix(String s, String method, Object[] a, boolean start) {
        if (a.length == 0 || a[0] == null) throw new IllegalArgumentException("str." + method + "() is missing its argument");
        int from = a.length > 1 && a[1] != null ? pyIndex((int) integer(method, a[1]), s.length()) : 0;
        int to = a.length > 2 && a[2] != null ? pyIndex((int) integer(method, a[2]), s.length()) : s.length();
        String sub = from <= to ? s.substring(from, to) : "";
        Collection<?> candidates = a[0] instanceof Collection<?> c ? c : List.of(a[0]);
        for (Object c : candidates) {
            if (start ? sub.startsWith(String.valueOf(c)) : sub.endsWith(String.valueOf(c))) return true;
        }
        return false;
    }

    private static int pyIndex(int i, int length) {
        return i < 0 ? Math.max(0, length + i) : Math.min(i, length);
    }

    private static String title(String s) {
        StringBuilder b = new StringBuilder(s.length());
        boolean previousCased = false;
        for (int i = 0; i < s.length(); ) {
            int c = s.codePointAt(i);
            i += Character.charCount(c);
            b.appendCodePoint(previousCased ? Character.toLowerCase(c) : Character.toTitleCase(c));
            previousCased = Character.isLetter(c);
        }
        return b.toString();
    }

    private static String replace(String s, String old, String by, long count) {
        if (count < 0) return s.replace(old, by);
        StringBuilder b = new StringBuilder();
        int from = 0;
        for (long n = 0; n < count; n++) {
            int at = old.isEmpty() ? (from <= s.length() ? from : -1) : s.indexOf(old, from);
            if (at < 0) break;
            b.append(s, from, at).append(by);
            if (old.isEmpty()) {
                if (at < s.length()) b.append(s.charAt(at));
                from = at + 1;
            } else {
                from = at + old.length();
            }
        }
        return from <= s.length() ? b.append(s.substring(from)).toString() : b.toString();
    }

    private static long count(String s, String sub) {
        if (sub.isEmpty()) return s.length() + 1L;
        long n = 0;
        for (int at = s.indexOf(sub); at >= 0; at = s.indexOf(sub, at + sub.length())) n++;
        return n;
    }

    private static String join(String sep, Object items) {
        if (!(items instanceof Iterable<?> it)) throw new IllegalArgumentException("str.join() expects one list of strings, got " + items);
        StringBuilder b = new StringBuilder();
        for (Iterator<?> i = it.iterator(); i.hasNext(); ) {
            b.append(i.next());
            if (i.hasNext()) b.append(sep);
        }
        return b.toString();
    }

    /** str.format with positional fields only: {}, {0}, and {{ }} for literal braces. */
    private static String format(String s, Object[] a) {
        StringBuilder b = new StringBuilder();
        int auto = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '{' && i + 1 < s.length() && s.charAt(i + 1) == '{' || c == '}' && i + 1 < s.length() && s.charAt(i + 1) == '}') {
                b.append(c);
                i++;
            } else if (c == '{') {
                int end = s.indexOf('}', i);
                if (end < 0) throw new IllegalArgumentException("str.format(): single '{' in " + s);
                String field = s.substring(i + 1, end);
                int index;
                if (field.isEmpty()) index = auto++;
                else if (field.chars().allMatch(Character::isDigit)) index = Integer.parseInt(field);
                else throw new IllegalArgumentException("str.format(): only positional fields {} and {0} are supported, got {" + field + "}");
                if (index >= a.length) throw new IllegalArgumentException("str.format(): no argument " + index + " for " + s);
                b.append(a[index]);
                i = end;
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }

    // The resolver answers method calls only; property look-ups go to Jinjava's resolvers.

    @Override
    public Object getValue(ELContext context, Object base, Object property) {
        return null;
    }

    @Override
    public Class<?> getType(ELContext context, Object base, Object property) {
        return null;
    }

    @Override
    public void setValue(ELContext context, Object base, Object property, Object value) {}

    @Override
    public boolean isReadOnly(ELContext context, Object base, Object property) {
        return true;
    }

    @Override
    public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
        return null;
    }

    @Override
    public Class<?> getCommonPropertyType(ELContext context, Object base) {
        return null;
    }
}
