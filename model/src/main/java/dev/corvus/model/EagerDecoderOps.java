package dev.corvus.model;

import dev.corvus.attention.Attention;
import dev.corvus.attention.FlashAttention;
import dev.corvus.attention.Mask;
import dev.corvus.tensor.Device;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.RopeStyle;
import dev.corvus.tensor.Tensor;
import java.util.List;

/** {@link DecoderOps} that run: each method is the tensor API call of the same name (the hot path). */
final class EagerDecoderOps implements DecoderOps<Tensor> {
    private final Linear linear;
    private final Device device;

    EagerDecoderOps(Linear linear, Device device) {
        this.linear = linear;
        this.device = device;
    }

    @Override
    public Tensor tokens(int[] ids) {
        return Tensor.ofInts(ids, ids.length).to(device);
    }

    @Override
    public Tensor embedding(Tensor table, Tensor ids) {
        return Ops.embedding(table, ids);
    }

    @Override
    public Tensor linear(Tensor x, Tensor weight) {
        return linear.apply(x, weight);
    }

    @Override
    public Tensor addBias(Tensor x, Tensor bias) {
        return Ops.add(x, bias);
    }

    @Override
    public Tensor rmsnorm(Tensor x, Tensor weight, float eps) {
        return Ops.rmsnorm(x, weight, eps);
    }

    @Override
    public Tensor add(Tensor a, Tensor b) {
        return Ops.add(a, b);
    }

    @Override
    public Tensor mul(Tensor a, Tensor b) {
        return Ops.mul(a, b);
    }

    @Override
    public Tensor scale(Tensor x, float factor) {
        return Ops.scale(x, factor);
    }

    @Override
    public Tensor silu(Tensor x) {
        return Ops.silu(x);
    }

    @Override
    public Tensor gelu(Tensor x, boolean tanhApproximation) {
        return Ops.gelu(x, tanhApproximation);
    }

    @Override
    public Tensor tanh(Tensor x) {
        return Ops.tanh(x);
    }

    @Override
    public Tensor rope(Tensor x, int positionOffset, double[] frequencies, double magnitude, RopeStyle style) {
        return Ops.rope(x, 0, positionOffset, frequencies, magnitude, style);
    }

    @Override
    public Tensor view(Tensor x, int... shape) {
        return x.view(shape);
    }

    @Override
    public Tensor reshape(Tensor x, int... shape) {
        return x.reshape(shape);
    }

    @Override
    public Tensor permute(Tensor x, int... order) {
        return x.permute(order);
    }

    @Override
    public Tensor unsqueeze(Tensor x, int dim) {
        return x.unsqueeze(dim);
    }

    @Override
    public Tensor squeeze(Tensor x, int dim) {
        return x.squeeze(dim);
    }

    @Override
    public Tensor narrow(Tensor x, int dim, int start, int length) {
        return start == 0 && length == x.size(dim) ? x : x.narrow(dim, start, length);
    }

    @Override
    public Tensor concat(int dim, List<Tensor> parts) {
        return Ops.concat(dim, parts.toArray(Tensor[]::new));
    }

    @Override
    public Tensor appendToCache(Tensor cache, Tensor x, int start) {
        return append(cache, x, start);
    }

    /** What {@link #appendToCache} does, shared with the traced op {@link DecoderOpDefs.CacheAppend}. */
    static Tensor append(Tensor cache, Tensor x, int start) {
        int length = x.size(0);
        Ops.copyInto(x.permute(1, 0, 2).unsqueeze(0), cache.narrow(2, start, length));
        return cache.narrow(2, 0, start + length);
    }

    @Override
    public Tensor attention(Tensor q, Tensor k, Tensor v, Mask mask, float scale, float softcap) {
        return Attention.OP.run(new Attention(mask, scale, softcap), q, k, v); // the registry op, so a recording tape sees it
    }

    @Override
    public Tensor shardAttention(ShardAttention attention, int layer, Tensor q, Tensor k, Tensor v, float scale, long window, float softcap) {
        return attention.attend(layer, q, k, v, scale, window, softcap);
    }

    @Override
    public Tensor decodeAttention(Tensor q, Tensor k, Tensor v, float scale, float softcap) {
        return FlashAttention.decode(q, k, v, k.size(2), scale, softcap);
    }
}
