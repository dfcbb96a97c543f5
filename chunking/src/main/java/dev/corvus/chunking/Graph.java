package dev.corvus.chunking;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A traced model: nodes in a topological order (the execution order), its inputs and its
 * outputs. Nodes no output depends on are dropped. The compiler may reorder nodes (hoisting work
 * out of chunk loops) into a new Graph over the same nodes.
 */
public final class Graph {
    private final List<Node> order;
    private final List<Node> inputs;
    private final List<Node> outputs;
    private final Map<Node, Integer> position = new IdentityHashMap<>();

    Graph(List<Node> traced, List<Node> inputs, List<Node> outputs) {
        Set<Node> needed = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Node o : outputs) mark(o, needed);
        List<Node> kept = new ArrayList<>();
        for (Node n : traced) if (needed.contains(n)) kept.add(n);
        this.order = List.copyOf(kept);
        this.inputs = List.copyOf(inputs);
        this.outputs = List.copyOf(outputs);
        for (Node n : order) n.users.clear();
        for (int i = 0; i < order.size(); i++) {
            position.put(order.get(i), i);
            for (Node in : order.get(i).inputs()) if (!in.users.contains(order.get(i))) in.users.add(order.get(i));
        }
    }

    private static void mark(Node n, Set<Node> needed) {
        List<Node> stack = new ArrayList<>(List.of(n));
        while (!stack.isEmpty()) {
            Node x = stack.removeLast();
            if (needed.add(x)) stack.addAll(x.inputs());
        }
    }

    /** The same nodes in another topological order. */
    Graph reordered(List<Node> newOrder) {
        if (newOrder.size() != order.size() || !new HashSet<>(newOrder).containsAll(order)) {
            throw new IllegalArgumentException("reorder must keep the same nodes");
        }
        Map<Node, Integer> at = new IdentityHashMap<>();
        for (int i = 0; i < newOrder.size(); i++) at.put(newOrder.get(i), i);
        for (Node n : newOrder) {
            for (Node in : n.inputs()) {
                if (at.get(in) > at.get(n)) throw new IllegalStateException("reorder puts " + n.describe() + " before its input " + in.describe());
            }
        }
        return new Graph(newOrder, inputs, outputs);
    }

    public List<Node> nodes() {
        return order;
    }

    public List<Node> inputs() {
        return inputs;
    }

    public List<Node> outputs() {
        return outputs;
    }

    public int size() {
        return order.size();
    }

    public Node node(int position) {
        return order.get(position);
    }

    /** This node's place in the execution order. */
    public int position(Node n) {
        Integer p = position.get(n);
        if (p == null) throw new IllegalArgumentException(n.describe() + " is not in this graph");
        return p;
    }

    /** The last position that reads n (its own position when nothing does); outputs live to the end. */
    int lastUse(Node n) {
        if (outputs.contains(n)) return Integer.MAX_VALUE;
        int last = position(n);
        for (Node u : n.users) last = Math.max(last, position(u));
        return last;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        for (Node n : order) sb.append(n.describe()).append('\n');
        sb.append("outputs:");
        for (Node o : outputs) sb.append(" %").append(o.id());
        return sb.toString();
    }
}
