package dev.corvus.hetero;

import dev.corvus.model.Linear;
import dev.corvus.model.LlamaWeights;
import dev.corvus.tensor.Device;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Tensor;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A {@link PlacementPlan} put to work for a Llama model: the model's {@link Linear} that runs each weight
 * matrix as the plan says, resident on the device (x goes over, y comes back) or as a
 * {@link SplitLinear}. It recognises a matrix by its weight tensor; any other weight falls back to
 * {@code Ops.linear}. Close it to free the device copies, pinned buffers and staging rings, before
 * closing the {@link DeviceSide}.
 *
 * <pre>{@code
 * try (DeviceSide device = DeviceSide.open("opencl");
 *      HeteroLinear hetero = HeteroLinear.build(plan, weights, device, SplitLinear.Options.DEFAULT)) {
 *     LlamaModel model = new LlamaModel(config, weights, hetero);
 *     ...
 * }
 * }</pre>
 */
public final class HeteroLinear implements Linear, AutoCloseable {
    private interface Op {
        Tensor apply(Tensor x);
    }

    private final Map<Tensor, Op> ops = new IdentityHashMap<>();
    private final Map<String, SplitLinear> splits = new LinkedHashMap<>();
    private final MemoryScope residentScope = MemoryScope.detached("hetero resident weights");
    private long decodeNanos, decodeCalls;

    private HeteroLinear() {}

    /** The weight matrices of a Llama model by name, in model order: "layers.L.wq" ... "classifier". */
    public static Map<String, Tensor> matrices(LlamaWeights w) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (int l = 0; l < w.layers().size(); l++) {
            LlamaWeights.Layer L = w.layers().get(l);
            String p = "layers." + l + ".";
            m.put(p + "wq", L.wq());
            m.put(p + "wk", L.wk());
            m.put(p + "wv", L.wv());
            m.put(p + "wo", L.wo());
            m.put(p + "w1", L.w1());
            m.put(p + "w2", L.w2());
            m.put(p + "w3", L.w3());
        }
        m.put("classifier", w.classifier());
        return m;
    }

    /** The layer shapes a planner needs, in model order. */
    public static java.util.List<LayerShape> shapes(LlamaWeights w) {
        return matrices(w).entrySet().stream().map(e -> LayerShape.of(e.getKey(), e.getValue())).toList();
    }

    /** Applies {@code plan} to host weights: copies the resident ones to the device, pins the device rows of the split ones. */
    public static HeteroLinear build(PlacementPlan plan, LlamaWeights weights, DeviceSide device, SplitLinear.Options options) {
        HeteroLinear h = new HeteroLinear();
        try {
            Map<String, Tensor> byName = matrices(weights);
            for (PlacementPlan.Entry e : plan.entries()) {
                String name = e.layer().name();
                Tensor w = byName.get(name);
                if (w == null) throw new IllegalArgumentException("the plan names layer " + name + ", which these weights do not have");
                if (!LayerShape.of(name, w).equals(e.layer())) {
                    throw new IllegalArgumentException("the plan's " + e.layer() + " does not match the weight " + LayerShape.of(name, w));
                }
                if (h.ops.containsKey(w)) continue; // one tensor used twice: its first entry decides
                if (e.resident()) {
                    // activations live on the host: x goes over, y comes back
                    Tensor onDevice = Ops.toDevice(w, device.device(), h.residentScope);
                    h.ops.put(w, x -> Ops.linear(x.to(onDevice.device()), onDevice, null).to(Device.CPU));
                } else {
                    SplitLinear s = new SplitLinear(name, w, e.splits(), e.splits().minRows() < w.size(0) ? device : null, options);
                    h.splits.put(name, s);
                    h.ops.put(w, s::apply);
                }
            }
            return h;
        } catch (RuntimeException e) {
            h.close();
            throw e;
        }
    }

    @Override
    public Tensor apply(Tensor x, Tensor w) {
        Op op = ops.get(w);
        long t0 = System.nanoTime();
        Tensor y = op != null ? op.apply(x) : Ops.linear(x, w, null);
        if (op != null && x.rank() == 2 && x.size(0) == 1) {
            decodeNanos += System.nanoTime() - t0;
            decodeCalls++;
        }
        return y;
    }

    /**
     * Measured wall time of the planned matrices per decode step (single-row calls, all matrices
     * once), to set beside {@link PlacementPlan#predictedDecodeSeconds()}; NaN before any such call.
     */
    public double measuredDecodeSecondsPerStep() {
        return decodeCalls == 0 ? Double.NaN : decodeNanos * 1e-9 * ops.size() / decodeCalls;
    }

    /** The split layers by name (for stats). */
    public Map<String, SplitLinear> splitLayers() {
        return java.util.Collections.unmodifiableMap(splits);
    }

    @Override
    public void close() {
        splits.values().forEach(SplitLinear::close);
        residentScope.close();
    }
}
