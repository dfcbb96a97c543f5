package dev.corvus.opencl;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.corvus.tensor.Backends;
import dev.corvus.tensor.Device;
import java.util.Optional;

/** Skips a test, saying why, when this machine has no usable OpenCL device. */
final class OpenClTestSupport {
    private OpenClTestSupport() {}

    private static volatile boolean printed;

    static void assumeOpenCl() {
        Optional<String> why = OpenClDevices.unavailableReason();
        if (why.isPresent() && !printed) {
            printed = true;
            System.err.println("Skipping OpenCL tests: " + why.get());
        }
        assumeTrue(why.isEmpty(), () -> "no OpenCL: " + why.orElse(""));
    }

    /** The default OpenCL device ("opencl"); assumes OpenCL is present. */
    static Device device() {
        assumeOpenCl();
        return Backends.device("opencl");
    }
}
