package dev.corvus.chunking;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * The legality pass: can the stretch of nodes [first, last] run as one loop over slices of the
 * seed node's dimension {@code dim}? Nodes of the stretch before the seed are hoisted unless a
 * chunked user wants them sliced. It follows that dimension through the stretch with
 * {@link DimRules}: forward from nodes with chunked operands, backward from users that want an
 * operand sliced. The answer is a region, or null when some node mixes the dimension, needs a
 * chunked value whole, or resizes it.
 */
final class RegionBuilder {
    private RegionBuilder() {}

    static ChunkRegion build(Graph g, int first, int last, int seedAt, int dim, int chunkSize) {
        Node seed = g.node(seedAt);
        if (!seed.isCompute() || !g.node(last).isCompute() || dim >= seed.rank() || seedAt < first || seedAt > last) return null;
        int extent = seed.size(dim);
        if (extent <= 1) return null;
        int[] seedFlow = DimRules.flow(seed, dim);
        if (seedFlow == null || !slicesSomething(seedFlow)) return null;

        Map<Node, Integer> inSpan = new IdentityHashMap<>();
        for (int p = first; p <= last; p++) inSpan.put(g.node(p), p);
        Map<Node, Integer> chunkDim = new IdentityHashMap<>();
        chunkDim.put(seed, dim);

        boolean changed = true;
        while (changed) {
            changed = false;
            // Forward: a node reading a chunked value must be chunked along a dim that value flows to.
            for (int p = first; p <= last; p++) {
                Node n = g.node(p);
                if (chunkDim.containsKey(n) || !readsChunked(n, chunkDim)) continue;
                int d = forwardDim(n, chunkDim, inSpan, extent);
                if (d < 0) return null;
                chunkDim.put(n, d);
                changed = true;
            }
            // Backward: an unchunked node whose chunked user wants it sliced must be chunked too.
            for (int p = last; p >= first; p--) {
                Node n = g.node(p);
                if (chunkDim.containsKey(n) || !n.isCompute()) continue;
                int wanted = demandedDim(n, chunkDim, inSpan);
                if (wanted == Integer.MIN_VALUE) return null;
                // A node that cannot be cut there stays whole (hoisted) and is sliced like an operand.
                if (wanted < 0 || n.size(wanted) != extent || DimRules.flow(n, wanted) == null) continue;
                chunkDim.put(n, wanted);
                changed = true;
            }
        }
        if (!chunkDim.containsKey(g.node(last))) return null;

        List<Node> body = new ArrayList<>(), hoisted = new ArrayList<>(), outputs = new ArrayList<>();
        for (int p = first; p <= last; p++) {
            Node n = g.node(p);
            if (!n.isCompute()) continue; // inputs and parameters are available everywhere
            if (!chunkDim.containsKey(n)) {
                if (readsChunked(n, chunkDim)) return null;
                hoisted.add(n);
                continue;
            }
            int[] f = DimRules.flow(n, chunkDim.get(n));
            if (f == null || n.size(chunkDim.get(n)) != extent) return null;
            for (int j = 0; j < f.length; j++) {
                Integer xd = chunkDim.get(n.input(j));
                if (xd != null && f[j] != xd) return null; // a chunked operand read whole, or along another dim
            }
            body.add(n);
            if (g.outputs().contains(n)) outputs.add(n);
            else for (Node u : n.users()) {
                if (g.position(u) > last) {
                    outputs.add(n);
                    break;
                }
            }
        }
        if (outputs.isEmpty()) return null;
        return new ChunkRegion(body, chunkDim, hoisted, outputs, extent, Math.min(chunkSize, extent));
    }

    private static boolean slicesSomething(int[] flow) {
        for (int f : flow) if (f >= 0) return true;
        return false;
    }

    private static boolean readsChunked(Node n, Map<Node, Integer> chunkDim) {
        for (Node x : n.inputs()) if (chunkDim.containsKey(x)) return true;
        return false;
    }

    /** The output dim of n that every chunked operand flows into, or -1. */
    private static int forwardDim(Node n, Map<Node, Integer> chunkDim, Map<Node, Integer> inSpan, int extent) {
        for (int d = 0; d < n.rank(); d++) {
            if (n.size(d) != extent) continue;
            int[] f = DimRules.flow(n, d);
            if (f == null) continue;
            boolean ok = true;
            for (int j = 0; j < f.length && ok; j++) {
                Node x = n.input(j);
                Integer xd = chunkDim.get(x);
                if (xd != null) ok = f[j] == xd;
                else if (inSpan.containsKey(x) && f[j] >= 0) ok = x.size(f[j]) == extent;
            }
            if (ok) return d;
        }
        return -1;
    }

    /**
     * The dim chunked users in the span want n sliced along: -1 when none wants a slice,
     * Integer.MIN_VALUE when they disagree or one also wants it whole.
     */
    private static int demandedDim(Node n, Map<Node, Integer> chunkDim, Map<Node, Integer> inSpan) {
        int wanted = -1;
        boolean wantsWhole = false;
        for (Node u : n.users()) {
            Integer ud = chunkDim.get(u);
            if (ud == null || !inSpan.containsKey(u)) continue;
            int[] f = DimRules.flow(u, ud);
            for (int j = 0; j < f.length; j++) {
                if (u.input(j) != n) continue;
                if (f[j] < 0) wantsWhole = true;
                else if (wanted >= 0 && wanted != f[j]) return Integer.MIN_VALUE;
                else wanted = f[j];
            }
        }
        if (wanted >= 0 && wantsWhole) return Integer.MIN_VALUE;
        return wanted;
    }
}
