/**
 * The CPU backend on the Vector API ({@code jdk.incubator.vector}): packed SGEMM, GEMV per weight
 * dtype read as stored, and fused row kernels. Nothing here is called directly: the backend is a
 * {@link dev.corvus.tensor.BackendProvider} service, and {@link dev.corvus.tensor.Backends} picks
 * it when this module is on the class path, the JVM runs with
 * {@code --add-modules jdk.incubator.vector}, C2 is on and vectors are at least 128 bits wide.
 *
 * <p>Internal: {@link dev.corvus.vector.Gemm} is public only for Corvus's HeteGen module; it is not
 * supported API and may change in any release.
 */
package dev.corvus.vector;
