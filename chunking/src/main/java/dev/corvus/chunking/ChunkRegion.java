package dev.corvus.chunking;

import java.util.List;
import java.util.Map;

/**
 * A stretch of the graph run as a loop over slices of one logical dimension (size {@code extent},
 * {@code chunkSize} per iteration). Every body node computes a slice along its own chunk dim (the
 * logical dim may sit at a different index in each node); hoisted nodes hold no chunked data and
 * run once before the loop; outputs are the body nodes read after the region, written slice by
 * slice into preallocated full-size buffers.
 *
 * @param body      the looped nodes, in execution order
 * @param chunkDim  each body node's chunk dimension
 * @param hoisted   nodes moved before the loop
 * @param outputs   body nodes read after the region (or graph outputs)
 */
public record ChunkRegion(List<Node> body, Map<Node, Integer> chunkDim, List<Node> hoisted, List<Node> outputs, int extent, int chunkSize) {
    public ChunkRegion {
        body = List.copyOf(body);
        chunkDim = Map.copyOf(chunkDim);
        hoisted = List.copyOf(hoisted);
        outputs = List.copyOf(outputs);
        if (chunkSize < 1 || chunkSize > extent) throw new IllegalArgumentException("chunk size " + chunkSize + " outside [1, " + extent + "]");
    }

    public Node first() {
        return body.getFirst();
    }

    public Node last() {
        return body.getLast();
    }

    public int iterations() {
        return (extent + chunkSize - 1) / chunkSize;
    }

    public ChunkRegion withChunkSize(int size) {
        return new ChunkRegion(body, chunkDim, hoisted, outputs, extent, size);
    }

    /** The dim of operand {@code i} of body node n a chunk slices, or {@link DimRules#WHOLE}. */
    int operandDim(Node n, int i) {
        return DimRules.flow(n, chunkDim.get(n))[i];
    }
}
