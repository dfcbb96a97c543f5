package dev.corvus.engine;

import dev.corvus.model.Checkpoint;
import dev.corvus.model.Checkpoints;
import dev.corvus.model.LlamaModel;
import dev.corvus.model.ModelStore;
import dev.corvus.model.RealModel;
import dev.corvus.model.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** The engine's tests on stories15M and its tokenizer (see {@link RealModel} for where they come from), loaded once per test class. */
abstract class Stories15MTestBase {
    static Checkpoint ckpt;
    static LlamaModel model;
    static Tokenizer tok;

    @BeforeAll
    static void load() throws Exception {
        ModelStore.Stories15M files = RealModel.files();
        ckpt = Checkpoints.load(files.checkpoint()).withTokenizer(Tokenizer.loadLlama2c(files.tokenizer()));
        model = new LlamaModel(ckpt.config(), ckpt.weights());
        tok = ckpt.tokenizer().orElseThrow();
    }

    @AfterAll
    static void close() {
        ckpt.close();
    }
}
