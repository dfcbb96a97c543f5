package dev.corvus.cli;

import dev.corvus.chat.ChatFormatter;
import dev.corvus.engine.Completion;
import dev.corvus.engine.Engine;
import dev.corvus.engine.EngineConfig;
import dev.corvus.engine.FinishReason;
import dev.corvus.engine.Generation;
import dev.corvus.engine.GenerationListener;
import dev.corvus.engine.GenerationRequest;
import dev.corvus.engine.SamplingOptions;
import dev.corvus.model.Checkpoint;
import dev.corvus.model.LlamaModel;
import dev.corvus.model.Tokenizer;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.jline.reader.EndOfFileException;
import org.jline.reader.LineReader;
import org.jline.reader.LineReaderBuilder;
import org.jline.reader.UserInterruptException;
import org.jline.terminal.Terminal;
import org.jline.terminal.TerminalBuilder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code corvus chat --model FILE}: a conversation with a model in the terminal, its replies
 * streamed as they are generated. The turns go through the model's chat template
 * ({@link ChatFormatter}, ChatML when the model has none, as llama.cpp does); the history is kept
 * within the context, the oldest exchanges dropped (and said so) when the next prompt would not
 * leave room for the reply. When standard input is not a terminal, each line is one message
 * (or command) and each reply is printed on its own line, so that it can be scripted.
 */
@Command(name = "chat", sortOptions = false,
        description = {"Chat with a model in the terminal (GGUF with its chat template, or llama2.c checkpoint), streaming the replies.",
            "Commands: /reset forgets the conversation, /system TEXT sets the system message (/system alone removes it), /help, /exit.",
            "Ctrl-C stops a reply; Ctrl-C or Ctrl-D at an empty prompt leaves. With standard input not a terminal, each line is a message."})
final class ChatCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "FILE", description = "GGUF file or llama2.c checkpoint (.bin) to chat with.")
    Path model;

    @Option(names = "--tokenizer", paramLabel = "PATH", description = "llama2.c tokenizer.bin (default: the GGUF's own, or tokenizer.bin beside the checkpoint).")
    Path tokenizer;

    @Option(names = "--system", paramLabel = "TEXT", description = "A system message before the conversation.")
    String system;

    @Option(names = "--chat-template", paramLabel = "FILE", description = "This Jinja chat template instead of the model's (default: the GGUF's"
            + " tokenizer.chat_template, else ChatML as llama.cpp does).")
    Path chatTemplate;

    @Option(names = "--temperature", description = "0 = greedy (default ${DEFAULT-VALUE}); higher is more random.", defaultValue = "0")
    float temperature;

    @Option(names = "--top-p", description = "Nucleus sampling mass when sampling, in (0, 1] (default ${DEFAULT-VALUE}; 1 = off).", defaultValue = "0.9")
    float topP;

    @Option(names = "--seed", description = "Random seed for sampling (default: from the clock).")
    Long seed;

    @Option(names = "--max-tokens", paramLabel = "N", description = "Most tokens in one reply (default ${DEFAULT-VALUE}).", defaultValue = "512")
    int maxTokens;

    @Option(names = "--ctx", paramLabel = "N", description = "Context in tokens that the conversation must fit, prompt and reply (default: the model's own).")
    Integer ctx;

    @Spec
    CommandSpec spec;

    /** Where the messages come from (tests set it); null: standard input. */
    InputStream input;

    @Override
    public Integer call() throws Exception {
        SamplingOptions sampling = sampling();
        if (maxTokens < 1) throw new IllegalArgumentException("--max-tokens must be >= 1, got " + maxTokens);
        if (ctx != null && ctx < 2) throw new IllegalArgumentException("--ctx must be >= 2 (a prompt token and a reply token), got " + ctx);
        Cli.requireFile(model, "model file");
        if (chatTemplate != null) Cli.requireFile(chatTemplate, "--chat-template");
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        try (Checkpoint ckpt = Cli.load(model, tokenizer)) {
            Tokenizer tok = Cli.tokenizer(ckpt, model);
            if (ctx != null && ctx > ckpt.config().seqLen()) {
                throw new IllegalArgumentException("--ctx " + ctx + " is more than the model's context of " + ckpt.config().seqLen() + " tokens");
            }
            ChatFormatter formatter = ChatFormatter.forModel(model, chatTemplate, tok);
            if (formatter.usesFallback()) {
                err.println("corvus: " + model.getFileName() + " has no chat template; using ChatML, as llama.cpp does"
                        + " (pass --chat-template FILE for the format the model was trained on)");
                err.flush();
            }
            EngineConfig config = EngineConfig.defaults().withContextLength(ctx == null ? 0 : ctx);
            try (Engine engine = Engine.start(new LlamaModel(ckpt.config(), ckpt.weights()), tok, config)) {
                Session session = new Session(engine, new ChatHistory(formatter, system), sampling);
                if (input == null && System.console() != null && System.console().isTerminal()) terminal(session);
                else lines(session, input != null ? input : System.in, out, err);
            }
        }
        return 0;
    }

    private SamplingOptions sampling() {
        if (!(temperature >= 0) || Float.isInfinite(temperature)) throw new IllegalArgumentException("--temperature must be a finite number >= 0, got " + temperature);
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("--top-p must be in (0, 1], got " + topP);
        return new SamplingOptions(temperature, topP, 0, 0, seed != null ? seed : System.nanoTime());
    }

    /** Not a terminal: a message (or command) per line, each reply on its own line of stdout, notices on stderr. */
    private static void lines(Session session, InputStream in, PrintWriter out, PrintWriter err) throws Exception {
        BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
        for (String line; (line = reader.readLine()) != null; ) {
            if (!session.handle(line, out, err, g -> {})) break;
        }
    }

    /** JLine's line editor; Ctrl-C during a reply cancels it, at the prompt (or Ctrl-D) leaves. */
    private void terminal(Session session) throws Exception {
        try (Terminal terminal = TerminalBuilder.builder().system(true).build()) {
            LineReader reader = LineReaderBuilder.builder().terminal(terminal).appName("corvus").build();
            PrintWriter tw = terminal.writer();
            tw.println("corvus: chatting with " + model.getFileName() + " (context " + session.context() + " tokens)."
                    + " /help lists the commands; Ctrl-D or /exit leaves.");
            AtomicReference<Generation> running = new AtomicReference<>();
            while (true) {
                String line;
                try {
                    line = reader.readLine("> ");
                } catch (UserInterruptException e) {
                    if (e.getPartialLine() == null || e.getPartialLine().isBlank()) break;
                    continue;
                } catch (EndOfFileException e) {
                    break;
                }
                Terminal.SignalHandler previous = terminal.handle(Terminal.Signal.INT, signal -> {
                    Generation g = running.get();
                    if (g != null) g.cancel();
                });
                try {
                    if (!session.handle(line, tw, tw, running::set)) break;
                } finally {
                    terminal.handle(Terminal.Signal.INT, previous);
                    running.set(null);
                }
            }
        }
    }

    /** One conversation on the engine: commands, the history within the context, streaming replies. */
    private final class Session {
        private final Engine engine;
        private final ChatHistory history;
        private final SamplingOptions sampling;

        Session(Engine engine, ChatHistory history, SamplingOptions sampling) {
            this.engine = engine;
            this.history = history;
            this.sampling = sampling;
        }

        int context() {
            return engine.contextLength();
        }

        /** Handles one line: a command or a message; false when the chat is over. */
        boolean handle(String line, PrintWriter out, PrintWriter notices, Consumer<Generation> running) throws Exception {
            String text = line.strip();
            if (text.isEmpty()) return true;
            if (text.startsWith("/")) return command(text, out, notices);
            // the prompt leaves the reply its --max-tokens, or half the context when that is less
            int budget = context() - Math.min(maxTokens, context() / 2);
            ChatHistory.Prompt prompt;
            try {
                prompt = history.next(text, budget);
            } catch (IllegalArgumentException e) {
                notice(notices, e.getMessage() + "; nothing was sent");
                return true;
            }
            if (prompt.droppedExchanges() > 0) {
                notice(notices, String.format(Locale.ROOT, "dropped the oldest %d exchange%s of the conversation to fit the context of %d tokens",
                        prompt.droppedExchanges(), prompt.droppedExchanges() == 1 ? "" : "s", context()));
            }
            int room = Math.min(maxTokens, context() - prompt.tokens().length);
            Generation g = engine.submit(new GenerationRequest(prompt.tokens(), room, sampling, List.of(), Duration.ZERO), new GenerationListener() {
                @Override
                public void onText(String piece) {
                    out.print(piece);
                    Cli.flush(out);
                }
            });
            running.accept(g);
            Completion c;
            try {
                c = g.result().get();
            } catch (ExecutionException e) {
                throw e.getCause() instanceof Exception cause ? cause : e;
            } finally {
                running.accept(null);
            }
            out.println();
            Cli.flush(out);
            if (c.finishReason() == FinishReason.CANCELLED) notice(notices, "reply stopped");
            if (c.finishReason() == FinishReason.LENGTH && room < maxTokens && c.completionTokens() == room) {
                notice(notices, "the reply filled the context of " + context() + " tokens; the next message drops the oldest exchanges");
            }
            history.add(text, c.text());
            return true;
        }

        private boolean command(String text, PrintWriter out, PrintWriter notices) {
            String name = text.split("\\s+", 2)[0], argument = text.substring(name.length()).strip();
            switch (name) {
                case "/exit", "/quit" -> {
                    return false;
                }
                case "/reset" -> {
                    history.reset();
                    notice(notices, "conversation reset" + (history.hasSystem() ? " (the system message stays)" : ""));
                }
                case "/system" -> {
                    history.system(argument.isEmpty() ? null : argument);
                    notice(notices, argument.isEmpty() ? "system message removed" : "system message set");
                }
                case "/help" -> {
                    out.println("/reset          forget the conversation (the system message stays)");
                    out.println("/system TEXT    set the system message; /system alone removes it");
                    out.println("/help           this list");
                    out.println("/exit           leave (also Ctrl-D, or Ctrl-C at an empty prompt)");
                    out.println("Ctrl-C during a reply stops it.");
                    Cli.flush(out);
                }
                default -> notice(notices, "unknown command " + name + "; /help lists the commands");
            }
            return true;
        }

        private void notice(PrintWriter notices, String message) {
            notices.println("corvus: " + message);
            notices.flush();
        }
    }
}
