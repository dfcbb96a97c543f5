package dev.corvus.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** --help, -h and help CMD on every command; --version from the build; the launcher's commands and the exit codes in the help. */
class CliHelpTest {
    /** Every command name, as the help lists them (from the command tree, so a new command is covered too). */
    private static List<String> commands() {
        List<String> names = new ArrayList<>();
        Corvus.run(cl -> names.addAll(cl.getSubcommands().keySet()), "--version");
        assertThat(names).contains("generate", "convert", "info", "bench", "plan", "chunk", "sp-demo", "help", "test", "jmh");
        return names;
    }

    @Test
    void everyCommandAnswersHelpDashHAndHelpCmd() {
        for (String cmd : commands()) {
            List<String[]> ways = List.of(new String[] {cmd, "--help"}, new String[] {cmd, "-h"}, new String[] {"help", cmd});
            for (String[] args : ways) {
                Corvus.Run r = Corvus.run(args);
                assertThat(r.code()).as("corvus %s; stderr: %s", String.join(" ", args), r.err()).isZero();
                // picocli's own help command puts its description first
                assertThat(cmd.equals("help") ? r.out().substring(r.out().indexOf("Usage:")) : r.out()).as("corvus %s", String.join(" ", args))
                        .startsWith("Usage: corvus " + cmd).contains("--help").contains("Exit codes:");
            }
        }
    }

    @Test
    void theTopHelpListsTheLauncherCommandsAndTheExitCodes() {
        Corvus.Run r = Corvus.run("--help");
        assertThat(r.code()).isZero();
        assertThat(r.out()).containsPattern("(?m)^  test +\\(\\./corvus launcher\\) Run the whole test suite")
                .containsPattern("(?m)^  jmh +\\(\\./corvus launcher\\) Run the JMH benchmark suites")
                .containsPattern("(?m)^ +0 +Success")
                .containsPattern("(?m)^ +1 +The command failed")
                .containsPattern("(?m)^ +2 +Bad options or arguments")
                .containsPattern("(?m)^ +130 +Interrupted")
                .contains("CORVUS_DEBUG");
        assertThat(Corvus.run().out()).as("corvus alone prints the help").isEqualTo(r.out());
        Corvus.run("test").failsPlainly(Main.USAGE).err().contains("run by the ./corvus launcher");
    }

    @Test
    void theReadmeDocumentsTheSameExitCodes() throws Exception {
        String readme = Files.readString(Path.of("..", "README.md"));
        for (var e : Main.EXIT_CODES.entrySet()) {
            assertThat(readme).as("README line for exit code " + e.getKey().trim()).containsPattern("(?m)^\\| *`?" + e.getKey().trim() + "`? *\\|");
        }
    }

    @Test
    void versionComesFromTheBuild() throws Exception {
        // the project version the Maven build filtered in, read from the parent pom this module builds with
        Matcher m = Pattern.compile("<parent>.*?<version>([^<]+)</version>", Pattern.DOTALL).matcher(Files.readString(Path.of("pom.xml")));
        assertThat(m.find()).isTrue();
        for (String[] args : List.of(new String[] {"--version"}, new String[] {"-V"}, new String[] {"generate", "--version"})) {
            Corvus.Run r = Corvus.run(args);
            assertThat(r.code()).isZero();
            assertThat(r.out().lines().findFirst()).hasValue("corvus " + m.group(1));
            assertThat(r.out()).contains("Java " + System.getProperty("java.runtime.version"));
        }
    }

    @Test
    void usageErrorsSayWhatAndWhereToReadMoreWithExitCode2() {
        Corvus.Run r = Corvus.run("generate", "--stepz", "3").failsPlainly(Main.USAGE);
        assertThat(r.err()).contains("corvus generate: Unknown option: '--stepz'").contains("--steps")
                .contains("Try 'corvus generate --help' for more information.");
        assertThat(r.err().lines().count()).as("no usage dump").isLessThan(6);
        Corvus.run("frobnicate").failsPlainly(Main.USAGE);
        Corvus.run("generate", "--steps", "many").failsPlainly(Main.USAGE).err().contains("--steps");
    }

    @Test
    void theOneLineLogFormatHasNoDateLine() {
        java.util.logging.LogRecord r = new java.util.logging.LogRecord(java.util.logging.Level.INFO, "Corvus backend: {0}");
        r.setParameters(new Object[] {"vector"});
        assertThat(new OneLineFormatter().format(r)).isEqualTo("corvus: Corvus backend: vector" + System.lineSeparator());
        java.util.logging.LogRecord w = new java.util.logging.LogRecord(java.util.logging.Level.WARNING, "two\nlines");
        w.setThrown(new IllegalStateException("why"));
        assertThat(new OneLineFormatter().format(w)).isEqualTo("corvus: warning: two lines: java.lang.IllegalStateException: why" + System.lineSeparator());
    }
}
