package dev.corvus.tensor.op;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.OpSupport;
import dev.corvus.tensor.Tensor;

/**
 * The shared definition of a one-operand element-wise op: an F32 result of the operand's shape,
 * every output dim flowing from the same operand dim, and a contiguous F32 copy of the operand as
 * its only scratch. Subclasses give the kernel.
 */
abstract class ElementwiseDef<A extends Record> extends OpDef<A> {
    ElementwiseDef(String name, String apiName, Class<A> attrsType) {
        super(name, apiName, attrsType);
    }

    /** out = op(x) for a contiguous F32 x, on {@code backend}. */
    abstract void kernel(Backend backend, A attrs, Tensor x, Tensor out);

    @Override
    public final Output infer(A attrs, Operand... in) {
        OpSupport.requireFloat(label(attrs), in[0]);
        return new Output(DType.F32, in[0].shape());
    }

    @Override
    public final Tensor run(Backend backend, A attrs, Tensor... in) {
        Tensor x = OpSupport.f32(label(attrs), in[0]);
        Tensor out = OpSupport.newOutput(backend, x, DType.F32, x.shape());
        kernel(backend, attrs, x, out);
        return out;
    }

    @Override
    public final int[] flow(A attrs, Operand[] in, int[] outShape, int d) {
        return new int[] {d};
    }

    @Override
    public final long scratchBytes(A attrs, Layout[] in, DType[] dtypes, int[] outShape) {
        return f32Copy(in[0], dtypes[0]);
    }
}
