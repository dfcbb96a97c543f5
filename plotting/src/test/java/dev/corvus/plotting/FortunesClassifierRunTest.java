package dev.corvus.plotting;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.model.Checkpoint;
import dev.corvus.model.Checkpoints;
import dev.corvus.model.LlamaConfig;
import dev.corvus.model.LlamaModel;
import dev.corvus.model.LlamaWeights;
import dev.corvus.model.RealModel;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import dev.corvus.train.AdamW;
import dev.corvus.train.CrossEntropy;
import dev.corvus.train.LearningRateSchedule;
import dev.corvus.train.Parameter;
import dev.corvus.train.Parameters;
import dev.corvus.train.TokenDataset;
import dev.corvus.train.Trainer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The loop on real text, end to end, as far as it goes without the decoder's backward pass:
 * stories15M's classifier (untied from its token embedding) is fine-tuned on Debian's fortunes
 * with the decoder body frozen, through TokenDataset, the chunked cross-entropy, Trainer (AdamW,
 * clipping, warm-up + cosine, accumulation, a checkpoint) and LossCurves. The held-out loss must
 * fall; the curves go to target/fortunes-classifier-loss.png and the model to
 * target/fortunes-classifier.gguf (which must load and give the in-memory logits). Skipped, with the reason, when
 * scripts/training-data.sh has not been run.
 */
class FortunesClassifierRunTest {
    static final int SEQ_LEN = 64, STEPS = 40, VALIDATION_SEQUENCES = 8, CHUNK_ROWS = 64;
    @TempDir Path dir;

    static LlamaConfig untied(LlamaConfig c) {
        return new LlamaConfig(c.dim(), c.hiddenDim(), c.layers(), c.heads(), c.kvHeads(), c.vocabSize(), c.seqLen(), c.ropeTheta(), c.normEps(),
                c.ropeStyle(), false, c.architecture(), c.headDim(), c.activation(), c.ropeScale(), c.ropeThetaSliding(), c.ropeScaleSliding(),
                c.ropeMagnitude(), c.ropeOriginalContext(), c.slidingWindow(), c.slidingLayers(), c.attentionScale(), c.attentionSoftcap(),
                c.finalSoftcap(), c.embeddingScale());
    }

    @Test
    void fineTuningTheClassifierOnFortunesLowersTheHeldOutLoss() throws IOException {
        Path fortunes = TokenDataset.fortunesFile();
        Assumptions.assumeTrue(Files.isRegularFile(fortunes) || "true".equals(System.getenv("CI")), "run scripts/training-data.sh to fetch " + fortunes);
        try (Checkpoint original = Checkpoints.load(RealModel.files().checkpoint())) {
            LlamaConfig config = original.config();
            LlamaWeights frozenWeights = original.weights();
            TokenDataset data = TokenDataset.fromFiles(List.of(fortunes), original.tokenizer().orElseThrow(), SEQ_LEN, 0.02, 1);
            Tensor embedding = frozenWeights.tokenEmbedding();
            LlamaWeights untiedWeights = new LlamaWeights(embedding, frozenWeights.layers(), frozenWeights.finalNorm(), embedding.view(embedding.shape()));
            // the frozen body's last hidden states (after the final norm): taken where the forward pass applies the classifier
            Tensor[] hidden = new Tensor[1];
            LlamaModel body = new LlamaModel(config, frozenWeights, (x, w) -> {
                if (w != frozenWeights.classifier()) return Ops.linear(x, w, null);
                Ops.copyInto(x, hidden[0]);
                return Tensor.zeros(DType.F32, x.size(0), w.size(0));
            });
            try (Parameters params = Parameters.of(untied(config), untiedWeights)) {
                for (Parameter p : params.list()) if (!p.name().equals("output.weight")) p.freeze();
                Parameter classifier = params.classifier();
                Trainer.LossFunction<int[]> loss = (sequence, p) -> score(body, hidden, sequence, classifier, true);
                Trainer.Validation validation = p -> {
                    CrossEntropy.Loss total = new CrossEntropy.Loss(0, 0);
                    for (int i = 0; i < VALIDATION_SEQUENCES; i++) {
                        CrossEntropy.Loss l = score(body, hidden, data.validation(i), classifier, false);
                        total = new CrossEntropy.Loss(total.sum() + l.sum(), total.tokens() + l.tokens());
                    }
                    return total;
                };
                double before = validation.evaluate(params).mean();
                Trainer.Options options = new Trainer.Options(2, 1.0, LearningRateSchedule.warmupCosine(1e-3f, 1e-4f, 4, STEPS),
                        new AdamW.Options(0.9f, 0.95f, 1e-8f, 0.01f), 20, dir.resolve("probe.ckpt"), 10);
                long start = System.nanoTime();
                List<Trainer.StepRecord> history;
                try (Trainer<int[]> trainer = new Trainer<>(params, data, loss, validation, options)) {
                    history = trainer.runUntil(STEPS);
                }
                double seconds = (System.nanoTime() - start) / 1e9;
                double after = history.get(history.size() - 1).validationLoss();
                System.out.printf("fortunes classifier fine-tune: held-out loss %.4f -> %.4f nats/token over %d steps of %d tokens (%.1f s, %.0f tok/s)%n",
                        before, after, STEPS, 2 * SEQ_LEN, seconds, STEPS * 2.0 * SEQ_LEN / seconds);
                assertThat(after).as("held-out loss after %d steps, from %s", STEPS, before).isLessThan(before - 0.1);
                assertThat(Files.exists(dir.resolve("probe.ckpt"))).isTrue();

                List<LossCurves.Point> train = new ArrayList<>(), held = new ArrayList<>();
                held.add(new LossCurves.Point(0, before));
                for (Trainer.StepRecord r : history) {
                    train.add(new LossCurves.Point(r.step(), r.trainLoss()));
                    held.add(new LossCurves.Point(r.step(), r.validationLoss()));
                }
                // the fine-tuned model as a GGUF that corvus generate loads, giving the in-memory model's logits
                Path gguf = Path.of("target", "fortunes-classifier.gguf");
                Files.createDirectories(gguf.getParent());
                params.exportGguf(gguf, original.tokenizer().orElseThrow(), DType.F32);
                int[] probe = Arrays.copyOf(data.validation(0), 16);
                try (Checkpoint tuned = Checkpoints.load(gguf); MemoryScope scope = MemoryScope.open()) {
                    assertThat(tuned.config().sharedClassifier()).isFalse();
                    LlamaModel fromFile = new LlamaModel(tuned.config(), tuned.weights()), inMemory = new LlamaModel(params.config(), params.weights());
                    float[] a, b;
                    try (var c1 = fromFile.newCache(16); var c2 = inMemory.newCache(16)) {
                        a = fromFile.forwardAll(probe, 0, c1).toFloatArray();
                        b = inMemory.forwardAll(probe, 0, c2).toFloatArray();
                    }
                    for (int i = 0; i < a.length; i++) assertThat(a[i]).isCloseTo(b[i], org.assertj.core.data.Offset.offset(1e-4f * (1 + Math.abs(b[i]))));
                }

                Path png = Path.of("target", "fortunes-classifier-loss.png");
                Files.createDirectories(png.getParent());
                LossCurves.writePng(png, new LossCurves.Curves("stories15M classifier fine-tuned on fortunes (body frozen)", train, held), 900, 500);
                assertThat(Files.size(png)).isPositive();
            }
        }
    }

    /** The summed cross-entropy of a sequence's next-token predictions; with gradients, dL/dW is added into the classifier's gradient. */
    static CrossEntropy.Loss score(LlamaModel body, Tensor[] hidden, int[] sequence, Parameter classifier, boolean gradients) {
        int[] inputs = Arrays.copyOf(sequence, sequence.length - 1), targets = Arrays.copyOfRange(sequence, 1, sequence.length);
        try (MemoryScope scope = MemoryScope.open("probe step")) {
            hidden[0] = Tensor.zeros(scope, DType.F32, inputs.length, body.config().dim());
            try (var cache = body.newCache(inputs.length)) {
                body.forwardAll(inputs, 0, cache);
            }
            return CrossEntropy.compute(hidden[0], classifier.value(), targets, CHUNK_ROWS, 1f, null, gradients ? classifier.grad() : null);
        }
    }
}
