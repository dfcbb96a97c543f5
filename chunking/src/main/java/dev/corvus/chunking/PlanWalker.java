package dev.corvus.chunking;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * The schedule of a chunked program, written once: which value is computed when, when each value
 * is freed, how a region preallocates its outputs, slices its inputs and loops. The executor walks
 * it with real tensors and the estimator with simulated layouts, so the two agree on every
 * allocation and free by construction; only the ops themselves differ.
 */
final class PlanWalker {
    /** What walking a plan does with values: run ops for real, or account for their bytes. */
    interface Machine<V> {
        V source(Node n);

        V compute(Node n, List<V> operands, Slice slice);

        V slice(V whole, int dim, int start, int length);

        V allocateFull(Node n);

        void writeChunk(V full, V chunk, Slice slice);

        void release(V v);
    }

    private PlanWalker() {}

    /**
     * Walks the plan. With {@code everyChunk} false only representative iterations run (the first,
     * the last full one and the final one), enough for the estimator: the others repeat them.
     *
     * @return the values of the graph outputs
     */
    static <V> List<V> walk(Graph g, List<ChunkRegion> regions, Machine<V> m, boolean everyChunk) {
        Map<Node, ChunkRegion> regionByFirst = new IdentityHashMap<>();
        for (ChunkRegion r : regions) regionByFirst.put(r.first(), r);
        Map<Node, V> values = new IdentityHashMap<>();
        // Inputs and parameters are not activations: bound up front, so a loop that jumps past
        // one inside its stretch still finds it.
        for (Node n : g.nodes()) if (!n.isCompute()) values.put(n, m.source(n));
        int i = 0;
        while (i < g.size()) {
            Node n = g.node(i);
            ChunkRegion r = regionByFirst.get(n);
            if (r != null) {
                int first = i, last = g.position(r.last());
                walkRegion(g, r, m, values, everyChunk);
                // Operands the loop read stay alive until it ends; free those it used last.
                for (Node x : new ArrayList<>(values.keySet())) {
                    int lastUse = g.lastUse(x);
                    if (lastUse >= first && lastUse <= last) m.release(values.remove(x));
                }
                i = last + 1;
                continue;
            }
            List<V> operands = new ArrayList<>(n.inputs().size());
            for (Node x : n.inputs()) operands.add(values.get(x));
            if (n.isCompute()) values.put(n, m.compute(n, operands, null));
            for (Node x : distinct(n.inputs())) if (g.lastUse(x) == i) m.release(values.remove(x));
            if (g.lastUse(n) == i) m.release(values.remove(n));
            i++;
        }
        List<V> out = new ArrayList<>();
        for (Node o : g.outputs()) out.add(values.get(o));
        return out;
    }

    private static <V> void walkRegion(Graph g, ChunkRegion r, Machine<V> m, Map<Node, V> values, boolean everyChunk) {
        List<Node> body = r.body();
        Map<Node, Integer> bodyIndex = new IdentityHashMap<>();
        for (int b = 0; b < body.size(); b++) bodyIndex.put(body.get(b), b);
        int[] lastInBody = new int[body.size()];
        for (int b = 0; b < body.size(); b++) {
            lastInBody[b] = b;
            for (Node u : body.get(b).users()) {
                Integer ub = bodyIndex.get(u);
                if (ub != null) lastInBody[b] = Math.max(lastInBody[b], ub);
            }
        }
        Map<Node, V> full = new IdentityHashMap<>();
        for (Node o : r.outputs()) full.put(o, m.allocateFull(o));
        for (int start : chunkStarts(r, everyChunk)) {
            int len = Math.min(r.chunkSize(), r.extent() - start);
            Map<Node, V> local = new IdentityHashMap<>();
            Map<String, V> slices = new HashMap<>();
            for (int b = 0; b < body.size(); b++) {
                Node n = body.get(b);
                List<V> operands = new ArrayList<>(n.inputs().size());
                for (int j = 0; j < n.inputs().size(); j++) {
                    Node x = n.input(j);
                    if (bodyIndex.containsKey(x)) {
                        operands.add(local.get(x));
                        continue;
                    }
                    int dim = r.operandDim(n, j);
                    if (dim == DimRules.WHOLE) operands.add(values.get(x));
                    else operands.add(slices.computeIfAbsent(x.id() + ":" + dim, k -> m.slice(values.get(x), dim, start, len)));
                }
                Slice slice = new Slice(r.chunkDim().get(n), start, len);
                V v = m.compute(n, operands, slice);
                local.put(n, v);
                if (full.containsKey(n)) m.writeChunk(full.get(n), v, slice);
                for (Node x : distinct(n.inputs())) {
                    Integer xb = bodyIndex.get(x);
                    if (xb != null && lastInBody[xb] == b) m.release(local.remove(x));
                }
                if (lastInBody[b] == b) m.release(local.remove(n));
            }
            for (V s : slices.values()) m.release(s);
        }
        values.putAll(full);
    }

    static List<Integer> chunkStarts(ChunkRegion r, boolean every) {
        List<Integer> starts = new ArrayList<>();
        int k = r.chunkSize(), n = r.iterations();
        if (every) {
            for (int s = 0; s < r.extent(); s += k) starts.add(s);
            return starts;
        }
        starts.add(0);
        if (n >= 3) starts.add((n - 2) * k);
        if (n >= 2) starts.add((n - 1) * k);
        return starts;
    }

    private static List<Node> distinct(List<Node> nodes) {
        List<Node> d = new ArrayList<>(nodes.size());
        for (Node n : nodes) if (!d.contains(n)) d.add(n);
        return d;
    }
}
