package dev.corvus.chat;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.tree.Node;
import java.util.Arrays;

/**
 * The template lines errors point at. Jinjava's are off: with trim_blocks it counts lines after
 * dropping the newline that follows each {@code %}} and {@code #}}, so in Qwen3's template an
 * error near the end was reported some thirty lines early; and it reports a failure inside a
 * block at the block's first line. Here the node being rendered is tracked (as a node
 * pre-processor, for every node), the first node that left a fatal error behind is the culprit,
 * and its true line is found by locating its text where Jinjava's count says it is.
 */
final class SourceLines {
    private final String source;
    /** For each source offset, the line Jinjava gives it (1-based); see the class comment. */
    private final int[] jinjavaLine;

    SourceLines(String source) {
        this.source = source;
        jinjavaLine = new int[source.length() + 1];
        int line = 1;
        for (int i = 0; i < source.length(); i++) {
            jinjavaLine[i] = line;
            boolean trimmed = i >= 2 && (source.startsWith("%}", i - 2) || source.startsWith("#}", i - 2));
            if (source.charAt(i) == '\n' && !trimmed) line++;
        }
        jinjavaLine[source.length()] = line;
    }

    /** The true 1-based line of {@code node}: its text located where Jinjava's line says. */
    int lineOf(Node node) {
        return lineOf(node.getMaster().getImage(), node.getLineNumber());
    }

    /** The true line of the text {@code image} that Jinjava puts on line {@code jl} (the first line Jinjava numbers so if not found). */
    int lineOf(String image, int jl) {
        if (image != null && !image.isEmpty()) {
            for (int at = source.indexOf(image); at >= 0; at = source.indexOf(image, at + 1)) {
                if (jinjavaLine[at] == jl) return trueLine(at);
            }
        }
        return lineOfJinjavaLine(jl);
    }

    /** The first true line Jinjava numbers {@code jl}, for errors without a node (parse errors). */
    int lineOfJinjavaLine(int jl) {
        if (jl <= 0) return 0;
        int at = Arrays.binarySearch(jinjavaLine, jl);
        if (at < 0) return jl;
        while (at > 0 && jinjavaLine[at - 1] == jl) at--;
        return trueLine(at);
    }

    private int trueLine(int offset) {
        int line = 1;
        for (int i = 0; i < offset; i++) if (source.charAt(i) == '\n') line++;
        return line;
    }

    /**
     * Per render: the node being rendered and the first one after which a fatal error stood. An
     * error already there before the first node is the parser's (Jinjava renders what it could
     * parse anyway); it has no culprit node.
     */
    static final class Tracker {
        private Node current, culprit;
        private boolean decided;

        void enter(Node node, JinjavaInterpreter interpreter) {
            interpreter.setLineNumber(node.getLineNumber());
            if (!decided && hasFatal(interpreter)) {
                culprit = current;
                decided = true;
            }
            current = node;
        }

        /** The node that failed: the recorded culprit, else the last one rendered; null for a parse error. */
        Node culprit() {
            return decided ? culprit : current;
        }

        private static boolean hasFatal(JinjavaInterpreter interpreter) {
            for (TemplateError e : interpreter.getErrors()) if (e.getSeverity() == TemplateError.ErrorType.FATAL) return true;
            return false;
        }
    }
}
