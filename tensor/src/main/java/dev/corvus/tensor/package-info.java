/**
 * Tensors over off-heap memory and the op set every backend implements.
 *
 * <p>Start with {@link dev.corvus.tensor.Tensor} (shape, strides and offset over a
 * {@link dev.corvus.tensor.Storage}; views share storage), {@link dev.corvus.tensor.MemoryScope}
 * (everything allocated while a scope is open is freed when it closes) and
 * {@link dev.corvus.tensor.Ops} (the op set, with argument checks and broadcasting, defined once).
 * {@link dev.corvus.tensor.Backends} chooses the CPU backend once and says why; without
 * corvus-vector-backend on the class path, or without {@code --add-modules jdk.incubator.vector},
 * that is the scalar reference backend, and it logs a warning naming what is missing.
 *
 * <p>For backend implementers: {@link dev.corvus.tensor.Backend},
 * {@link dev.corvus.tensor.BackendProvider} (found through {@link java.util.ServiceLoader}),
 * {@link dev.corvus.tensor.TileKernels}, {@link dev.corvus.tensor.DeviceMemory} and
 * {@link dev.corvus.tensor.RopeTable}.
 *
 * <p>Internal: {@link dev.corvus.tensor.Shapes}, {@link dev.corvus.tensor.FloatFormats} and
 * {@link dev.corvus.tensor.Quants} are public only because other Corvus modules use them; they are
 * not supported API and may change in any release.
 */
package dev.corvus.tensor;
