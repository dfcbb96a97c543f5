package dev.corvus.train;

import dev.corvus.model.LlamaModel;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.op.Tape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The causal-LM loss of a Llama-family decoder and the gradients of its parameters: the model's
 * own forward ({@link LlamaModel#trainingForward}, the code {@code corvus generate} runs, without
 * the KV cache) recorded by a {@link Tape}, {@link CrossEntropy} over the vocabulary in chunks on
 * the final hidden states (never [N, vocab] whole), its dH as the seed of the tape's backward.
 * A {@link Trainer.LossFunction} over packed sequences of T + 1 tokens: inputs are the first T,
 * targets the last T.
 *
 * <p>Memory: every activation of the sequence is held until the backward, plus the
 * cross-entropy's chunk scratch; with {@code checkpointBlocks} only each block's input [T, dim] is
 * held and the block's activations are recomputed, one block at a time, in backward
 * ({@link LlamaModel#trainingForward(int[], boolean)}); the gradients are the same.
 */
public final class DecoderGradients implements Trainer.LossFunction<int[]> {
    private final int chunkRows;
    private final boolean checkpointBlocks;

    /** @param chunkRows rows of the cross-entropy per chunk (its [chunkRows, vocab] logits are the largest buffer) */
    public DecoderGradients(int chunkRows) {
        this(chunkRows, false);
    }

    /**
     * @param chunkRows        rows of the cross-entropy per chunk
     * @param checkpointBlocks recompute each decoder block's activations in backward instead of holding them
     */
    public DecoderGradients(int chunkRows, boolean checkpointBlocks) {
        if (chunkRows <= 0) throw new IllegalArgumentException("DecoderGradients: chunk rows " + chunkRows + " must be positive");
        this.chunkRows = chunkRows;
        this.checkpointBlocks = checkpointBlocks;
    }

    /** Whether each decoder block is recomputed in backward. */
    public boolean checkpointBlocks() {
        return checkpointBlocks;
    }

    @Override
    public CrossEntropy.Loss accumulate(int[] sequence, Parameters parameters) {
        if (sequence.length < 2) throw new IllegalArgumentException("DecoderGradients: a sequence needs at least 2 tokens, got " + sequence.length);
        LlamaModel model = new LlamaModel(parameters.config(), parameters.weights());
        int[] inputs = Arrays.copyOf(sequence, sequence.length - 1), targets = Arrays.copyOfRange(sequence, 1, sequence.length);
        List<Parameter> wanted = new ArrayList<>(parameters.list());
        Tensor[] values = new Tensor[wanted.size()];
        for (int i = 0; i < values.length; i++) values[i] = wanted.get(i).value();
        try (MemoryScope scope = MemoryScope.open("decoder gradients"); Tape tape = Tape.record()) {
            Tensor h = model.trainingForward(inputs, checkpointBlocks);
            Tensor dH = Tensor.zeros(scope, DType.F32, h.shape());
            // the summed loss (the trainer divides by the tokens of all micro-batches); dW straight into the classifier's gradient
            CrossEntropy.Loss loss = tape.unrecorded(() -> CrossEntropy.ofModel(h, parameters, targets, chunkRows, dH, true));
            Tensor[] grads = tape.backward(h, dH, values);
            for (int i = 0; i < grads.length; i++) {
                Tensor g = wanted.get(i).grad();
                Ops.copyInto(Ops.add(g, grads[i]), g);
            }
            return loss;
        }
    }

    /** The summed loss of {@code sequence} (no gradients), by the same forward. */
    public CrossEntropy.Loss loss(int[] sequence, Parameters parameters) {
        LlamaModel model = new LlamaModel(parameters.config(), parameters.weights());
        int[] inputs = Arrays.copyOf(sequence, sequence.length - 1), targets = Arrays.copyOfRange(sequence, 1, sequence.length);
        try (MemoryScope scope = MemoryScope.open("decoder loss")) {
            return CrossEntropy.ofModel(model.trainingForward(inputs), parameters, targets, chunkRows, null, false);
        }
    }
}
