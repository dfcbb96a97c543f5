package dev.corvus.cli;

import java.util.Locale;
import java.util.logging.Formatter;
import java.util.logging.Level;
import java.util.logging.LogRecord;

/** "corvus: message" for INFO and below, "corvus: warning: message" above; a thrown exception's message on the same line. */
final class OneLineFormatter extends Formatter {
    @Override
    public String format(LogRecord r) {
        StringBuilder b = new StringBuilder("corvus: ");
        if (r.getLevel().intValue() >= Level.WARNING.intValue()) b.append(r.getLevel().getName().toLowerCase(Locale.ROOT)).append(": ");
        b.append(formatMessage(r).replace('\n', ' '));
        if (r.getThrown() != null) b.append(": ").append(r.getThrown());
        return b.append(System.lineSeparator()).toString();
    }
}
