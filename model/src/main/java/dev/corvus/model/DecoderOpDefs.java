package dev.corvus.model;

import dev.corvus.tensor.DType;
import dev.corvus.tensor.Shapes;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.Backend;
import dev.corvus.tensor.op.Layout;
import dev.corvus.tensor.op.OpDef;
import dev.corvus.tensor.op.Operand;

/**
 * The op the traced decoder needs beyond the registry's: the KV-cache append, a side-effecting
 * sink. It returns a view, so it costs no activation memory, and cannot be cut by a chunk loop
 * (its dimension rule says so), which leaves the keys and values of a chunked prefill computed
 * whole before the loop and the queries chunked against them.
 */
final class DecoderOpDefs {
    private DecoderOpDefs() {}

    /**
     * The KV-cache append of operands (cache [1, kvHeads, capacity, headDim], x [T, kvHeads,
     * headDim]): x goes to positions [start, start + T), and the result is the view of positions
     * [0, start + T) that attention reads. The cache is a parameter of the trace (memory outside
     * the activations); the result's data dependency orders the write before every read.
     */
    record CacheAppend(int start) {
        static final OpDef<CacheAppend> OP = new OpDef<>("cacheAppend", "LlamaModel.KvCache append", CacheAppend.class) {
            @Override
            public Output infer(CacheAppend attrs, Operand... in) {
                if (in.length != 2 || in[0].rank() != 4 || in[1].rank() != 3) {
                    throw new IllegalArgumentException("cacheAppend: expected a cache [1, kvHeads, capacity, headDim] and x [T, kvHeads, headDim]");
                }
                Operand cache = in[0], x = in[1];
                if (cache.dtype() != DType.F32 || cache.size(0) != 1 || cache.size(1) != x.size(1) || cache.size(3) != x.size(2)
                        || attrs.start() < 0 || (long) attrs.start() + x.size(0) > cache.size(2)) {
                    throw new IllegalArgumentException("cacheAppend: x " + Shapes.str(x.shape()) + " at position " + attrs.start()
                            + " does not fit the cache " + cache.dtype() + " " + Shapes.str(cache.shape()));
                }
                int[] shape = cache.shape();
                shape[2] = attrs.start() + x.size(0);
                return new Output(DType.F32, shape);
            }

            @Override
            public Tensor run(Backend backend, CacheAppend attrs, Tensor... in) {
                return EagerDecoderOps.append(in[0], in[1], attrs.start());
            }

            @Override
            public int[] flow(CacheAppend attrs, Operand[] in, int[] outShape, int d) {
                return null; // a chunk of the appended rows would still return the whole prefix
            }

            @Override
            public boolean mayView() {
                return true;
            }

            @Override
            public boolean isView(CacheAppend attrs, Layout[] in) {
                return true;
            }

            @Override
            public Layout outputLayout(CacheAppend attrs, Layout[] in, int[] outShape) {
                return in[0].narrow(2, outShape[2]);
            }
        };
    }
}
