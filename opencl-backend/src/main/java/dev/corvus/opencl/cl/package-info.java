/**
 * Typed bindings to OpenCL (platforms, devices, contexts, queues, buffers, programs, kernels,
 * events) over {@code libOpenCL.so.1} through the FFM API. Every failing call raises a
 * {@link dev.corvus.opencl.cl.ClException} naming the OpenCL error symbol (and the build log for
 * programs). These are the building blocks of the OpenCL backend and of HeteGen's device side;
 * most applications use tensors on an OpenCL {@link dev.corvus.tensor.Device} instead.
 */
package dev.corvus.opencl.cl;
