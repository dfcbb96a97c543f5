package dev.corvus.tensor.op;

import java.util.List;

/**
 * Contributes op definitions from another module (flash attention from corvus-attention, say) to
 * {@link OpRegistry#all()}: registered as a {@link java.util.ServiceLoader} service in
 * {@code META-INF/services/dev.corvus.tensor.op.OpProvider}.
 */
public interface OpProvider {
    List<OpDef<?>> ops();
}
