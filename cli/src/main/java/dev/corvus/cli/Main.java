package dev.corvus.cli;

import dev.corvus.tensor.Parallel;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.io.OutputStreamWriter;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.function.Consumer;
import java.util.logging.Handler;
import java.util.logging.Logger;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code corvus}: the command-line entry point. Every command takes {@code --help}, and
 * {@code corvus help CMD} says the same; every failure ends in one line on stderr and one of the
 * {@link #EXIT_CODES}, with the stack trace only under {@code --debug} or {@code CORVUS_DEBUG=1}.
 */
@Command(name = "corvus", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Pure-JVM compute for long-sequence transformer workloads.",
        subcommands = {CommandLine.HelpCommand.class, InfoCommand.class, BenchCommand.class, GenerateCommand.class, ChatCommand.class, PlanCommand.class,
            ChunkCommand.class, ConvertCommand.class, SpDemoCommand.class, LogitsCommand.class, PerplexityCommand.class, ServeCommand.class, TrainCommand.class,
            LauncherCommands.Test.class, LauncherCommands.Jmh.class},
        footerHeading = "%nEnvironment:%n",
        footer = {"  CORVUS_JAVA_OPTS  JVM options for ./corvus, e.g. -Xmx8g -Dcorvus.backend=scalar",
            "  CORVUS_CACHE      Model and device-profile cache (default ~/.cache/corvus)",
            "  CORVUS_DEBUG=1    Print the stack trace of a failure, as --debug does"})
public final class Main implements Runnable {
    public static final int OK = 0;
    /** The command failed: a bad or unreadable file, an I/O error, a check that did not pass. */
    public static final int FAILED = 1;
    /** Bad options or arguments. */
    public static final int USAGE = 2;
    /** Interrupted (Ctrl-C ends the JVM with 128 + SIGINT). */
    public static final int INTERRUPTED = 130;

    /** The exit codes as every command's help lists them. */
    static final Map<String, String> EXIT_CODES = exitCodes();

    /** ForkJoinPool's ceiling on parallelism. */
    private static final int MAX_THREADS = 0x7fff;

    @Spec
    CommandSpec spec;

    @Option(names = "--threads", paramLabel = "N", description = "Worker threads for kernels, 1 to 32767 (default: all cores).", scope = CommandLine.ScopeType.INHERIT)
    void threads(int n) {
        if (n < 1 || n > MAX_THREADS) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--threads " + n + ": expected 1 to " + MAX_THREADS
                    + " (this machine has " + Runtime.getRuntime().availableProcessors() + " cores)");
        }
        Parallel.setThreads(n);
    }

    @Option(names = "--debug", description = "On failure, print the stack trace as well (same as CORVUS_DEBUG=1).", scope = CommandLine.ScopeType.INHERIT)
    boolean debug;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    public static void main(String[] args) {
        oneLineLogging();
        // UTF-8 whatever the platform encoding: generated text is Unicode. One stream for both
        // System.out and the commands' writer, so neither's buffer reorders the other's text.
        Stdout stdout = new Stdout(new FileOutputStream(FileDescriptor.out));
        PrintStream system = new PrintStream(stdout, true, StandardCharsets.UTF_8);
        System.setOut(system);
        PrintWriter out = new PrintWriter(system, false, StandardCharsets.UTF_8); // checkError() sees the stream's errors
        PrintWriter err = new PrintWriter(new OutputStreamWriter(System.err, StandardCharsets.UTF_8), true);
        int code = execute(args, out, err, stdout, cl -> {});
        err.flush();
        System.exit(code);
    }

    /** Runs one command line; whatever it throws becomes a message on {@code err} and an exit code. */
    static int execute(String[] args, PrintWriter out, PrintWriter err) {
        return execute(args, out, err, null, cl -> {});
    }

    /** {@link #execute(String[], PrintWriter, PrintWriter)} with the command line changed first (tests add commands). */
    static int execute(String[] args, PrintWriter out, PrintWriter err, Stdout stdout, Consumer<CommandLine> customize) {
        Main main = new Main();
        Failures failures = new Failures(err, () -> main.debug, stdout);
        try {
            CommandLine cl = new CommandLine(main);
            customize.accept(cl); // before the settings below: picocli applies them to the commands present
            cl.setOut(out).setErr(err)
                    .setExecutionExceptionHandler((e, cmd, parsed) -> failures.report(e, cmd))
                    .setParameterExceptionHandler(failures::usage);
            everyCommand(cl);
            int code = cl.execute(args);
            // commands that print with System.out (info, chunk, ...) end up here when it failed
            out.flush();
            if (code == OK && (out.checkError() || System.out.checkError())) code = failures.report(new Cli.OutputFailed());
            return code;
        } catch (Throwable t) { // picocli passes Errors (OOM, ExceptionInInitializerError) straight through
            return failures.report(t);
        }
    }

    /** --help, --version and the exit codes on every command, not only the top one. */
    private static void everyCommand(CommandLine cl) {
        CommandSpec s = cl.getCommandSpec();
        if (s.parent() != null && !s.mixinStandardHelpOptions()) {
            s.mixinStandardHelpOptions(true);
            s.versionProvider(new Version());
        }
        s.usageMessage().exitCodeListHeading("%nExit codes:%n").exitCodeList(EXIT_CODES);
        for (CommandLine sub : cl.getSubcommands().values()) everyCommand(sub);
    }

    private static Map<String, String> exitCodes() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("  " + OK, "Success.");
        m.put("  " + FAILED, "The command failed: a missing or damaged file, an I/O error, a check that did not pass.");
        m.put("  " + USAGE, "Bad options or arguments.");
        m.put(String.valueOf(INTERRUPTED), "Interrupted (Ctrl-C).");
        return m;
    }

    /**
     * java.util.logging writes two lines a record by default (a date and source line, then the
     * message); one line with the corvus prefix reads like the rest of the output.
     */
    static void oneLineLogging() {
        System.setProperty("java.util.logging.SimpleFormatter.format", "corvus: %4$s: %5$s%6$s%n");
        Logger root = Logger.getLogger("");
        for (Handler h : root.getHandlers()) h.setFormatter(new OneLineFormatter());
    }

    /** "corvus 0.1.0" from the build (Maven filters version.properties), then the Java it runs on. */
    static final class Version implements CommandLine.IVersionProvider {
        static String version() {
            try (InputStream in = Main.class.getResourceAsStream("version.properties")) {
                if (in == null) return "(unknown version: version.properties is not on the class path)";
                Properties p = new Properties();
                p.load(in);
                String v = p.getProperty("version", "");
                return v.isEmpty() || v.startsWith("${") ? "(unknown version: version.properties was not filtered by the build)" : v;
            } catch (java.io.IOException e) {
                return "(unknown version: " + e.getMessage() + ")";
            }
        }

        @Override
        public String[] getVersion() {
            return new String[] {"corvus " + version(),
                "Java " + System.getProperty("java.runtime.version") + " (" + System.getProperty("java.vm.name") + ", "
                    + System.getProperty("java.vendor") + "), " + System.getProperty("os.name") + " " + System.getProperty("os.arch")};
        }
    }
}
