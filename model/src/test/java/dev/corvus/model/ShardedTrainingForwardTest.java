package dev.corvus.model;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.attention.Attention;
import dev.corvus.attention.Mask;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.testing.Close;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The sharded training forward (the hook sequence parallelism uses): a shard whose rows are the
 * sequence's runs out of order, rotated at their global positions, with an attention that sees
 * the whole sequence, gives the rows of the unsharded training forward. Here one shard holds all
 * of a sequence in zigzag-like order and the hook attends over it after putting the rows back in
 * order, so the model is tested alone (the train module tests the distributed hooks).
 */
class ShardedTrainingForwardTest {
    static final int[] TOKENS = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2};

    /** Runs of 17 positions in the order 0-3, 13-16, 4-8, 9-12: local rows are not global order. */
    static final List<LlamaModel.PositionRun> RUNS = List.of(new LlamaModel.PositionRun(0, 0, 4), new LlamaModel.PositionRun(4, 13, 4),
            new LlamaModel.PositionRun(8, 4, 5), new LlamaModel.PositionRun(13, 9, 4));

    static int[] shardTokens() {
        int[] t = new int[TOKENS.length];
        for (LlamaModel.PositionRun r : RUNS) System.arraycopy(TOKENS, r.globalStart(), t, r.localStart(), r.length());
        return t;
    }

    /** Rows of x along dim from the runs' local order into global order (toGlobal) or back. */
    static Tensor reorder(Tensor x, int dim, boolean toGlobal) {
        List<LlamaModel.PositionRun> order = new ArrayList<>(RUNS);
        if (toGlobal) order.sort(Comparator.comparingInt(LlamaModel.PositionRun::globalStart));
        List<Tensor> parts = new ArrayList<>();
        for (LlamaModel.PositionRun r : order) {
            int from = toGlobal ? r.localStart() : r.globalStart();
            parts.add(x.narrow(dim, from, r.length()));
        }
        return Ops.concat(dim, parts.toArray(Tensor[]::new));
    }

    static final ShardAttention WHOLE_SEQUENCE = (layer, q, k, v, scale, window, softcap) -> {
        Tensor out = Attention.OP.run(new Attention(new Mask(true, 0, 0, window), scale, softcap), reorder(q, 2, true), reorder(k, 2, true),
                reorder(v, 2, true));
        return reorder(out, 2, false);
    };

    @Test
    void aShardOutOfOrderGivesTheUnshardedRowsForEveryFamily() {
        List<Architecture> compared = new ArrayList<>();
        for (Architecture arch : Architecture.values()) {
            LlamaConfig c = Decoders.config(arch);
            try (MemoryScope scope = MemoryScope.open()) {
                LlamaModel model = new LlamaModel(c, Decoders.randomWeights(scope, c, 11));
                float[] expected = model.trainingForward(TOKENS).toFloatArray();
                float[] actual = reorder(model.trainingForward(shardTokens(), RUNS, WHOLE_SEQUENCE), 0, true).toFloatArray();
                Close.assertAllClose("sharded training forward, " + arch, expected, actual, 1e-5, 1e-5);
                compared.add(arch);
            }
        }
        // Gemma 2 and 3 with their sliding-window layers and soft-caps, Qwen2 with its classifier bias (which the loss applies)
        org.assertj.core.api.Assertions.assertThat(compared).as("families compared").containsExactly(Architecture.values());
    }

    @Test
    void runsThatDoNotCoverTheShardInOrderAreRefused() {
        LlamaConfig c = TinyLlama.config(4, 2);
        try (MemoryScope scope = MemoryScope.open()) {
            LlamaModel model = new LlamaModel(c, TinyLlama.randomWeights(scope, c, 7));
            assertThatThrownBy(() -> model.trainingForward(new int[] {1, 2, 3}, List.of(new LlamaModel.PositionRun(0, 0, 1), new LlamaModel.PositionRun(2, 5, 2)),
                    WHOLE_SEQUENCE)).hasMessageContaining("must start at local row 1");
            assertThatThrownBy(() -> model.trainingForward(new int[] {1, 2, 3}, List.of(new LlamaModel.PositionRun(0, 0, 2)), WHOLE_SEQUENCE))
                    .hasMessageContaining("cover 2 rows, the shard has 3 tokens");
        }
    }
}
