/**
 * The backend SPI on OpenCL devices, through the FFM API. Tensors move to a device with
 * {@code tensor.to(Backends.device("opencl"))} (or {@code "opencl:<platform>:<device>"}) and back
 * with {@code to(Device.CPU)}; {@link dev.corvus.opencl.OpenClDevices} lists what the driver
 * offers. Needs {@code libOpenCL.so.1} and an installable client driver (PoCL runs on the CPU).
 *
 * <p>Internal: {@link dev.corvus.opencl.ProgramCache} is public only because OpenClBackend exposes it to this module's tests; it is
 * not supported API and may change in any release.
 */
package dev.corvus.opencl;
