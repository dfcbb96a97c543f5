package dev.corvus.cli;

import java.io.InterruptedIOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.UndeclaredThrowableException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.function.BooleanSupplier;
import picocli.CommandLine;
import picocli.CommandLine.ParameterException;

/**
 * The one place a failure becomes what the user sees: "corvus: what went wrong" on stderr and an
 * exit code, for exceptions and Errors alike. Wrappers (ExceptionInInitializerError and friends)
 * are looked through to the cause that says something. The stack trace follows only under
 * {@code --debug} or {@code CORVUS_DEBUG=1}.
 */
final class Failures {
    private final PrintWriter err;
    private final BooleanSupplier debugFlag;
    private final Stdout stdout;

    Failures(PrintWriter err, BooleanSupplier debugFlag, Stdout stdout) {
        this.err = err;
        this.debugFlag = debugFlag;
        this.stdout = stdout;
    }

    private boolean debug() {
        String env = System.getenv("CORVUS_DEBUG");
        return debugFlag.getAsBoolean() || (env != null && !env.isBlank() && !env.equals("0") && !env.equalsIgnoreCase("false"));
    }

    /** Bad options or arguments: the message and where to read more, not the whole usage text. */
    int usage(ParameterException e, String[] args) {
        try {
            String command = e.getCommandLine().getCommandSpec().qualifiedName(" ");
            err.println(command + ": " + e.getMessage());
            CommandLine.UnmatchedArgumentException.printSuggestions(e, err);
            err.println("Try '" + command + " --help' for more information.");
            if (debug()) e.printStackTrace(err);
            err.flush();
        } catch (Throwable t) {
            // the report itself failed (stderr closed, say): the exit code still tells
        }
        return Main.USAGE;
    }

    /** Reports {@code failure} and returns the exit code for it. */
    int report(Throwable failure) {
        return report(failure, null);
    }

    /** Reports {@code failure} of {@code command} (null when unknown) and returns the exit code for it. */
    int report(Throwable failure, CommandLine command) {
        Throwable t = cause(failure);
        int code = t instanceof InterruptedException || t instanceof InterruptedIOException ? Main.INTERRUPTED
                : isUsage(t) ? Main.USAGE : Main.FAILED;
        try {
            err.println("corvus: " + message(t));
            if (code == Main.USAGE) {
                err.println("Try '" + (command != null ? command.getCommandSpec().qualifiedName(" ") + " --help'" : "corvus help'")
                        + " for more information.");
            }
            if (debug()) failure.printStackTrace(err);
            else if (isBug(t)) err.println("corvus: (this looks like a bug in Corvus; --debug prints the stack trace to report)");
            err.flush();
        } catch (Throwable ignored) {
            // nothing more can be said; the exit code still tells
        }
        return code;
    }

    /** Through the wrappers that carry no message of their own to the failure that says what happened. */
    static Throwable cause(Throwable t) {
        for (int depth = 0; depth < 20 && t.getCause() != null && t.getCause() != t; depth++) {
            boolean wrapper = t instanceof ExceptionInInitializerError || t instanceof InvocationTargetException
                    || t instanceof UndeclaredThrowableException || t instanceof ExecutionException || t instanceof CompletionException
                    || t instanceof CommandLine.ExecutionException || t instanceof UncheckedIOException
                    // new RuntimeException(cause) says only the cause's class and message again
                    || (t.getMessage() != null && t.getMessage().equals(t.getCause().toString()));
            if (!wrapper) break;
            t = t.getCause();
        }
        return t;
    }

    /**
     * An IllegalArgumentException whose message starts with an option name ("--ctx must be
     * positive") is about what was typed: a usage error.
     */
    private static boolean isUsage(Throwable t) {
        return t instanceof IllegalArgumentException && t.getMessage() != null && t.getMessage().startsWith("--");
    }

    /** Failures no input should cause: the code is wrong, and the stack trace is worth reporting. */
    private static boolean isBug(Throwable t) {
        return t instanceof NullPointerException || t instanceof IndexOutOfBoundsException || t instanceof ClassCastException
                || t instanceof ArrayStoreException || t instanceof NegativeArraySizeException || t instanceof LinkageError
                || t instanceof InternalError || t instanceof AssertionError;
    }

    String message(Throwable t) {
        if (t instanceof Cli.OutputFailed) {
            String reason = stdout != null ? stdout.reason() : null;
            return t.getMessage() + (reason != null ? " (" + reason + ")" : "");
        }
        if (t instanceof OutOfMemoryError) {
            return "out of memory (" + t.getMessage() + "); give Java more with CORVUS_JAVA_OPTS=-Xmx<size> (heap) or"
                    + " -XX:MaxDirectMemorySize, or use a smaller model, a smaller --ctx or --dtype q8_0";
        }
        if (t instanceof StackOverflowError) return "stack overflow; raise the thread stack size with CORVUS_JAVA_OPTS=-Xss16m";
        if (t instanceof InterruptedException || t instanceof InterruptedIOException) {
            return "interrupted" + (t.getMessage() != null ? ": " + t.getMessage() : "");
        }
        if (t instanceof FileSystemException f) return fileMessage(f);
        String m = t.getMessage();
        if (m == null || m.isBlank()) return t.getClass().getSimpleName();
        if (isBug(t) || t instanceof Error) return t.getClass().getSimpleName() + ": " + m;
        return m;
    }

    /** "x.gguf: no such file or directory": NoSuchFileException's own message is the bare path. */
    static String fileMessage(FileSystemException f) {
        String file = f.getFile() != null ? f.getFile() : "";
        String reason = f.getReason() != null ? f.getReason()
                : f instanceof NoSuchFileException ? "no such file or directory"
                : f instanceof AccessDeniedException ? "permission denied"
                : f instanceof FileAlreadyExistsException ? "already exists"
                : f instanceof NotDirectoryException ? "not a directory"
                : f instanceof DirectoryNotEmptyException ? "directory not empty"
                : f.getClass().getSimpleName();
        String other = f.getOtherFile() != null ? " -> " + f.getOtherFile() : "";
        return file.isEmpty() ? reason : file + other + ": " + reason;
    }
}
