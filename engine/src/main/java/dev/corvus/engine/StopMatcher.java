package dev.corvus.engine;

import java.util.List;

/**
 * Finds the first stop string in generated text as it grows, and says how much of the text is
 * safe to show: everything except a tail that could still become the start of a stop string.
 * Not thread-safe; one per generation.
 */
final class StopMatcher {
    private final List<String> stops;
    /** A stop string that appears must start within this many characters before new text. */
    private final int longestStop;
    private final StringBuilder text = new StringBuilder();
    private int emitted; // text[0, emitted) was returned by append
    private int stopAt = -1;

    StopMatcher(List<String> stops) {
        this.stops = List.copyOf(stops);
        this.longestStop = this.stops.stream().mapToInt(String::length).max().orElse(0);
    }

    /**
     * Adds {@code piece} and returns the text that may be shown now: up to the first stop string
     * once one appears (see {@link #stopped}), else all but the longest tail that is a proper
     * prefix of some stop string.
     */
    String append(String piece) {
        if (stopAt >= 0) return "";
        int searchFrom = Math.max(0, emitted - longestStop);
        text.append(piece);
        int first = -1;
        for (String s : stops) {
            int i = text.indexOf(s, searchFrom);
            if (i >= 0 && (first < 0 || i < first)) first = i;
        }
        int safe;
        if (first >= 0) {
            stopAt = first;
            safe = first;
        } else {
            safe = text.length() - heldBack();
        }
        String out = safe > emitted ? text.substring(emitted, safe) : "";
        emitted = Math.max(emitted, safe);
        return out;
    }

    /** The text held back at the end (no stop string came): it is part of the answer after all. */
    String flush() {
        if (stopAt >= 0) return "";
        String out = text.substring(emitted);
        emitted = text.length();
        return out;
    }

    boolean stopped() {
        return stopAt >= 0;
    }

    /** The whole answer so far: up to the stop string if one appeared. */
    String text() {
        return stopAt >= 0 ? text.substring(0, stopAt) : text.toString();
    }

    private int heldBack() {
        int longest = 0;
        for (String s : stops) {
            for (int k = Math.min(s.length() - 1, text.length()); k > longest; k--) {
                if (CharSequence.compare(text.subSequence(text.length() - k, text.length()), s.subSequence(0, k)) == 0) {
                    longest = k;
                    break;
                }
            }
        }
        return longest;
    }
}
