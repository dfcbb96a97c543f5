package dev.corvus.tensor.op;

/**
 * An op whose result is always a view of its first operand (permute, narrow): it computes
 * nothing, so no backend has a kernel for it, and it allocates nothing; its
 * {@link #outputLayout} says which strides the view has.
 */
abstract class ViewDef<A extends Record> extends OpDef<A> {
    ViewDef(String name, String apiName, Class<A> attrsType) {
        super(name, apiName, attrsType);
    }

    @Override
    public final Kernel kernelKind() {
        return Kernel.VIEW;
    }

    @Override
    public final boolean mayView() {
        return true;
    }

    @Override
    public final boolean isView(A attrs, Layout[] in) {
        return true;
    }

    /** The view's shape and strides, from the operand's layout. */
    @Override
    public abstract Layout outputLayout(A attrs, Layout[] in, int[] outShape);
}
