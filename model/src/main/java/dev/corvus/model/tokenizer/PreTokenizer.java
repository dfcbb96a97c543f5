package dev.corvus.model.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Splits text into the words byte-level BPE merges within, by a list of regular expressions
 * applied in turn: each one splits every piece the previous left into its matches and the gaps
 * between them (llama.cpp's {@code unicode_regex_split}; the expressions are the models' own,
 * from their tokenizer.json).
 *
 * <p>Unicode classes are resolved the way llama.cpp resolves them, so that both agree on every
 * character: each code point of 128 and above is first replaced by one stand-in character per
 * category (letter, number, punctuation, mark, symbol, other), White_Space characters by
 * U+000B, and {@code \p{L}} and friends become classes of their stand-in plus the ASCII members.
 * Expressions without such classes run on the text itself, non-ASCII White_Space again read as
 * U+000B.
 */
final class PreTokenizer {
    private static final char OTHER = '\u00D0', NUMBER = '\u00D1', LETTER = '\u00D2', PUNCTUATION = '\u00D3', MARK = '\u00D4', SYMBOL = '\u00D5';
    private static final String[][] CLASSES = {
        // the longer names first, so that \p{L} does not claim \p{Lu}
        {"\\p{Lu}", LETTER + "A-Za-z"}, {"\\p{Ll}", LETTER + "A-Za-z"}, {"\\p{Lt}", LETTER + "A-Za-z"},
        {"\\p{Lm}", LETTER + "A-Za-z"}, {"\\p{Lo}", LETTER + "A-Za-z"},
        {"\\p{N}", NUMBER + "0-9"},
        {"\\p{L}", LETTER + "A-Za-z"},
        {"\\p{P}", PUNCTUATION + "!-#%-*,-/:;?@\\[-\\]_\\{\\}"},
        {"\\p{M}", String.valueOf(MARK)},
        {"\\p{S}", SYMBOL + "\\$\\+<->\\^`\\|~"},
    };

    private final Pattern[] patterns;
    private final boolean[] collapsed;

    PreTokenizer(List<String> regexes) {
        patterns = new Pattern[regexes.size()];
        collapsed = new boolean[regexes.size()];
        for (int i = 0; i < patterns.length; i++) {
            String r = regexes.get(i);
            collapsed[i] = r.contains("\\p{");
            patterns[i] = Pattern.compile(collapsed[i] ? collapse(r) : r);
        }
    }

    /** The expression with each Unicode class replaced by its stand-in class. */
    private static String collapse(String regex) {
        StringBuilder out = new StringBuilder();
        boolean inClass = false;
        for (int i = 0; i < regex.length(); i++) {
            char c = regex.charAt(i);
            if (c == '\\' && i + 1 < regex.length() && regex.charAt(i + 1) != 'p') {
                out.append(c).append(regex.charAt(++i));
                continue;
            }
            if (c == '[' && !inClass) inClass = true;
            else if (c == ']' && inClass) inClass = false;
            String[] hit = null;
            for (String[] cls : CLASSES) if (regex.startsWith(cls[0], i)) hit = cls;
            if (hit == null) {
                if (regex.startsWith("\\p{", i)) throw new IllegalArgumentException("pre-tokenizer regex uses an unsupported class at " + i + ": " + regex);
                out.append(c);
                continue;
            }
            out.append(inClass ? hit[1] : "[" + hit[1] + "]");
            i += hit[0].length() - 1;
        }
        return out.toString();
    }

    /** Unicode's White_Space property, which llama.cpp's {@code \s} follows. */
    static boolean isWhitespace(int cp) {
        return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A)
                || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
    }

    private static char standIn(int cp) {
        if (cp < 128) return (char) cp;
        if (isWhitespace(cp)) return '\u000B';
        return switch (Character.getType(cp)) {
            case Character.UPPERCASE_LETTER, Character.LOWERCASE_LETTER, Character.TITLECASE_LETTER, Character.MODIFIER_LETTER,
                    Character.OTHER_LETTER -> LETTER;
            case Character.DECIMAL_DIGIT_NUMBER, Character.LETTER_NUMBER, Character.OTHER_NUMBER -> NUMBER;
            case Character.CONNECTOR_PUNCTUATION, Character.DASH_PUNCTUATION, Character.START_PUNCTUATION, Character.END_PUNCTUATION,
                    Character.INITIAL_QUOTE_PUNCTUATION, Character.FINAL_QUOTE_PUNCTUATION, Character.OTHER_PUNCTUATION -> PUNCTUATION;
            case Character.NON_SPACING_MARK, Character.ENCLOSING_MARK, Character.COMBINING_SPACING_MARK -> MARK;
            case Character.MATH_SYMBOL, Character.CURRENCY_SYMBOL, Character.MODIFIER_SYMBOL, Character.OTHER_SYMBOL -> SYMBOL;
            default -> OTHER;
        };
    }

    /** The words of {@code text}, in order; they concatenate to it. */
    List<String> split(String text) {
        int[] cps = text.codePoints().toArray();
        String collapsedText = null, rawText = null;
        int[] cpToChar = null, charToCp = null; // for the raw text, where a supplementary character takes two chars
        List<Integer> lengths = new ArrayList<>(List.of(cps.length));
        for (int p = 0; p < patterns.length; p++) {
            if (collapsed[p]) {
                if (collapsedText == null) {
                    char[] c = new char[cps.length];
                    for (int i = 0; i < cps.length; i++) c[i] = standIn(cps[i]);
                    collapsedText = new String(c);
                }
                lengths = splitBy(patterns[p], collapsedText, lengths, null, null);
            } else {
                if (rawText == null) {
                    StringBuilder sb = new StringBuilder(text.length());
                    cpToChar = new int[cps.length + 1];
                    charToCp = new int[text.length() + 1];
                    for (int i = 0; i < cps.length; i++) {
                        cpToChar[i] = sb.length();
                        charToCp[sb.length()] = i;
                        sb.appendCodePoint(cps[i] >= 128 && isWhitespace(cps[i]) ? 0x0B : cps[i]);
                    }
                    cpToChar[cps.length] = sb.length();
                    charToCp[sb.length()] = cps.length;
                    rawText = sb.toString();
                }
                lengths = splitBy(patterns[p], rawText, lengths, cpToChar, charToCp);
            }
        }
        List<String> words = new ArrayList<>(lengths.size());
        int start = 0;
        for (int len : lengths) {
            words.add(new String(cps, start, len));
            start += len;
        }
        return words;
    }

    /** Splits each piece (lengths in code points) into matches and gaps; a null map means one char per code point. */
    private static List<Integer> splitBy(Pattern pattern, String subject, List<Integer> lengths, int[] cpToChar, int[] charToCp) {
        List<Integer> out = new ArrayList<>(lengths.size() * 2);
        Matcher m = pattern.matcher(subject);
        int start = 0;
        for (int len : lengths) {
            int from = cpToChar == null ? start : cpToChar[start];
            int to = cpToChar == null ? start + len : cpToChar[start + len];
            m.region(from, to);
            int done = start;
            while (m.find()) {
                int ms = charToCp == null ? m.start() : charToCp[m.start()];
                int me = charToCp == null ? m.end() : charToCp[m.end()];
                if (ms > done) out.add(ms - done);
                if (me > ms) out.add(me - ms);
                done = me;
            }
            if (start + len > done) out.add(start + len - done);
            start += len;
        }
        return out;
    }
}
