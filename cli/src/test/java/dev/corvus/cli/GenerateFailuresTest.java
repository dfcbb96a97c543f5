package dev.corvus.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** generate stops on a failing stdout (defect 6) and on NaN logits (defect 7), with a message and a non-zero exit. */
class GenerateFailuresTest {
    @TempDir
    Path dir;

    /** Accepts {@code limit} bytes, then fails every write the way a closed pipe or a full disk does; counts the attempts. */
    static final class FailingStream extends OutputStream {
        final long limit;
        long accepted, failedWrites;

        FailingStream(long limit) {
            this.limit = limit;
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            if (accepted + len > limit) {
                failedWrites++;
                throw new IOException("Broken pipe");
            }
            accepted += len;
        }
    }

    private static int decoded(String err) {
        Matcher m = Pattern.compile("decode: (\\d+) tokens").matcher(err);
        return m.find() ? Integer.parseInt(m.group(1)) : -1;
    }

    @Test
    void aStdoutThatFailsStopsTheDecodingWithExitCode1() throws IOException {
        String model = TinyModel.write(dir, "tiny.bin", 7, false).toString();
        String[] args = {"generate", "hello", "--model", model, "--steps", "300"};
        Corvus.Run healthy = Corvus.run(args);
        assertThat(healthy.code()).as(healthy.err()).isZero();
        assertThat(decoded(healthy.err())).as("tokens a healthy run decodes").isGreaterThan(100);

        for (long limit : new long[] {0, 10}) { // a full disk (generate > /dev/full); | head -c 10
            FailingStream out = new FailingStream(limit);
            Corvus.Run r = Corvus.runTo(out, args).failsPlainly(Main.FAILED);
            assertThat(r.err()).contains("corvus: could not write to standard output; stopped");
            assertThat(out.failedWrites).as("writes tried after the stream failed (one per token when decoding goes on)").isLessThanOrEqualTo(2);
            assertThat(r.err()).as("no stats line: the run stopped").doesNotContain("decode:");
        }
    }

    @Test
    void nanLogitsStopGreedyAndSampledGenerationWithAMessage() throws IOException {
        String model = TinyModel.write(dir, "nan.bin", 7, true).toString();
        for (String[] sampling : new String[][] {{}, {"--temperature", "1", "--seed", "3"}, {"--temperature", "0.8", "--top-p", "1", "--seed", "3"}}) {
            String[] args = new String[6 + sampling.length];
            System.arraycopy(new String[] {"generate", "hello", "--model", model, "--steps", "50"}, 0, args, 0, 6);
            System.arraycopy(sampling, 0, args, 6, sampling.length);
            Corvus.Run r = Corvus.run(args).failsPlainly(Main.FAILED);
            assertThat(r.err()).as(String.join(" ", sampling)).contains("non-finite logits").contains("NaN of " + TinyModel.vocab())
                    .contains("at position").doesNotContain("Index -1");
            assertThat(r.out()).doesNotContain("<unk>");
        }
    }
}
