package dev.corvus.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import dev.corvus.chat.ChatMessage;
import dev.corvus.engine.EngineConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The official OpenAI Node SDK (npm openai, installed by scripts/npm-clients.sh) against the
 * running server: chat and completions, whole and streamed, stop strings, usage, models, errors.
 * Without node or the package the test is skipped, except under CI=true, where it fails.
 */
class OpenAiNodeClientTest {
    private static final Path SCRIPT = Path.of("src/test/js/openai-client.cjs");

    static Path clients() {
        String cache = System.getenv("CORVUS_CACHE");
        Path dir = (cache != null && !cache.isBlank() ? Path.of(cache) : Path.of(System.getProperty("user.home"), ".cache", "corvus")).resolve("npm-clients");
        String problem = null;
        if (!nodeRuns()) problem = "node is not on the PATH (apt-get install -y nodejs npm)";
        else if (!Files.isDirectory(dir.resolve("node_modules/openai"))) problem = "the OpenAI Node SDK is not installed in " + dir;
        if (problem != null) {
            String message = problem + "; run scripts/npm-clients.sh to test the server with the OpenAI Node SDK";
            if ("true".equals(System.getenv("CI"))) fail(message + " (CI=true: this test must run)");
            Assumptions.abort(message);
        }
        return dir;
    }

    private static boolean nodeRuns() {
        try {
            Process p = new ProcessBuilder("node", "--version").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    @Test
    void theOfficialNodeClientGetsTheLibrarysGreedyText() throws Exception {
        Path clients = clients();
        try (Served s = Served.storiesWithChat(EngineConfig.defaults(), CorvusServer.Options.defaults().withApiKey("node-key"))) {
            String chatText = s.greedy(s.chatPrompt(ChatMessage.user("Once upon a time")), 24);
            String completionText = s.greedy(s.encode("Once upon a time"), 24);
            String stop = chatText.substring(10, 14);
            String stopped = chatText.substring(0, chatText.indexOf(stop));

            Path stderr = Files.createTempFile("openai-node", ".err");
            try {
                Process p = new ProcessBuilder(List.of("node", SCRIPT.toString(), s.server.url() + "/v1", "stories15M", clients.toString(), stop))
                        .redirectError(stderr.toFile()).start();
                p.getOutputStream().close();
                String stdout = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                if (!p.waitFor(180, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    fail("the node client did not finish in 180 s");
                }
                assertThat(p.exitValue()).as("node exit; stderr:%n%s", Files.readString(stderr)).isZero();
                JsonNode out = Served.json(stdout);
                int chatPrompt = s.chatPrompt(ChatMessage.user("Once upon a time")).length;

                assertThat(out.path("chat").path("text").asText()).isEqualTo(chatText);
                assertThat(out.path("chat").path("role").asText()).isEqualTo("assistant");
                assertThat(out.path("chat").path("finish").asText()).isEqualTo("length");
                assertThat(out.path("chat").path("object").asText()).isEqualTo("chat.completion");
                assertThat(out.path("chat").path("usage").path("prompt_tokens").asInt()).isEqualTo(chatPrompt);
                assertThat(out.path("chat").path("usage").path("completion_tokens").asInt()).isEqualTo(24);
                assertThat(out.path("chat").path("usage").path("total_tokens").asInt()).isEqualTo(chatPrompt + 24);

                JsonNode stream = out.path("chatStream");
                assertThat(stream.path("text").asText()).isEqualTo(chatText);
                assertThat(stream.path("role").asText()).isEqualTo("assistant");
                assertThat(stream.path("finish").asText()).isEqualTo("length");
                assertThat(stream.path("usage").path("completion_tokens").asInt()).isEqualTo(24);
                assertThat(stream.path("chunks").asInt()).as("streamed in pieces").isGreaterThan(3);

                assertThat(out.path("chatStop").path("text").asText()).isEqualTo(stopped);
                assertThat(out.path("chatStop").path("finish").asText()).isEqualTo("stop");
                assertThat(out.path("chatStreamStop").path("text").asText()).isEqualTo(stopped);
                assertThat(out.path("chatStreamStop").path("finish").asText()).isEqualTo("stop");

                assertThat(out.path("completion").path("text").asText()).isEqualTo(completionText);
                assertThat(out.path("completion").path("usage").path("completion_tokens").asInt()).isEqualTo(24);
                assertThat(out.path("completionStream").path("text").asText()).isEqualTo(completionText);
                assertThat(out.path("completionStream").path("finish").asText()).isEqualTo("length");
                assertThat(out.path("completionStream").path("usage").path("prompt_tokens").asInt()).isEqualTo(s.encode("Once upon a time").length);

                assertThat(out.path("models").get(0).asText()).isEqualTo("stories15M");
                assertThat(out.path("unknownModel").path("status").asInt()).isEqualTo(404);
                assertThat(out.path("unknownModel").path("code").asText()).isEqualTo("model_not_found");
                assertThat(out.path("unknownModel").path("param").asText()).isEqualTo("model");
                assertThat(out.path("unknownModel").path("name").asText()).isEqualTo("NotFoundError");
                assertThat(out.path("tooLong").path("status").asInt()).isEqualTo(400);
                assertThat(out.path("tooLong").path("param").asText()).isEqualTo("max_tokens");
                assertThat(out.path("tooLong").path("code").asText()).isEqualTo("context_length_exceeded");
            } finally {
                Files.deleteIfExists(stderr);
            }
        }
    }
}
