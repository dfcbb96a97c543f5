package dev.corvus.tensor.op;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;

/**
 * Every op Corvus defines: the tensor module's own, then those of each {@link OpProvider} on the
 * class path. Names are unique; a provider that repeats one is an error, not a silent override.
 */
public final class OpRegistry {
    private OpRegistry() {}

    /** The tensor module's ops, in the order {@link #all()} lists them. */
    static final List<OpDef<?>> BUILT_IN = List.of(Matmul.OP, Linear.OP, Binary.OP, Scale.OP, Unary.OP, Softmax.OP, RmsNorm.OP,
            LayerNorm.OP, Rope.OP, Embedding.OP, Argmax.OP, Reduce.OP, Concat.OP, Reshape.OP, Permute.OP, Contiguous.OP, Softplus.OP,
            Copy.OP, Convert.OP, CopyInto.OP, Narrow.OP, ToDevice.OP);

    private static final class Holder {
        static final Map<String, OpDef<?>> ALL = load();
    }

    private static Map<String, OpDef<?>> load() {
        Map<String, OpDef<?>> all = new LinkedHashMap<>();
        List<OpDef<?>> found = new ArrayList<>(BUILT_IN);
        for (OpProvider p : ServiceLoader.load(OpProvider.class, OpRegistry.class.getClassLoader())) found.addAll(p.ops());
        for (OpDef<?> op : found) {
            OpDef<?> before = all.putIfAbsent(op.name(), op);
            if (before != null && before != op) {
                throw new IllegalStateException("op '" + op.name() + "' is defined twice: by " + before.getClass().getName() + " and "
                        + op.getClass().getName());
            }
        }
        return java.util.Collections.unmodifiableMap(all);
    }

    /** Every registered op: built-in ones first, then each provider's. */
    public static List<OpDef<?>> all() {
        return List.copyOf(Holder.ALL.values());
    }

    /** The op of that name, if one is registered. */
    public static Optional<OpDef<?>> named(String name) {
        return Optional.ofNullable(Holder.ALL.get(name));
    }
}
