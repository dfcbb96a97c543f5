package dev.corvus.cli;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;

/**
 * Standard output that remembers why a write failed: PrintStream and PrintWriter keep only a flag,
 * and "No space left on device" or "Broken pipe" is what the user needs to read.
 */
final class Stdout extends FilterOutputStream {
    private volatile IOException failure;

    Stdout(OutputStream out) {
        super(out);
    }

    @Override
    public void write(int b) throws IOException {
        try {
            out.write(b);
        } catch (IOException e) {
            throw remember(e);
        }
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        try {
            out.write(b, off, len);
        } catch (IOException e) {
            throw remember(e);
        }
    }

    @Override
    public void flush() throws IOException {
        try {
            out.flush();
        } catch (IOException e) {
            throw remember(e);
        }
    }

    private IOException remember(IOException e) {
        if (failure == null) failure = e;
        return e;
    }

    /** The first write error's message, or null. */
    String reason() {
        IOException e = failure;
        return e == null ? null : e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }
}
