package dev.corvus.vector;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.BackendProvider;
import java.lang.management.ManagementFactory;
import java.util.List;
import java.util.Optional;

/**
 * Decides whether the Vector API backend can run, in order: the incubator module is readable,
 * the JIT is C2 (the Vector API is only fast once C2 intrinsifies it; interpreted or C1-only it
 * is far slower than plain loops), and the preferred vector is at least 128 bits wide. No class
 * of jdk.incubator.vector is loaded before the first check passes.
 */
public final class VectorBackendProvider implements BackendProvider {
    static final String MODULE = "jdk.incubator.vector";

    @Override
    public String name() {
        return "vector";
    }

    @Override
    public int priority() {
        return 100;
    }

    @Override
    public Optional<String> unavailableReason() {
        if (ModuleLayer.boot().findModule(MODULE).isEmpty()) {
            return Optional.of(MODULE + " is not readable: start the JVM with --add-modules " + MODULE);
        }
        Optional<String> jit = jitProblem();
        if (jit.isPresent()) return jit;
        int bits = VectorShapes.preferredBitSize();
        if (bits < 128) return Optional.of("the preferred vector is only " + bits + " bits wide (need >= 128)");
        return Optional.empty();
    }

    /** Empty when C2 will compile our kernels. */
    static Optional<String> jitProblem() {
        List<String> args = ManagementFactory.getRuntimeMXBean().getInputArguments();
        for (String a : args) {
            if (a.equals("-Xint")) return Optional.of("the JVM runs interpreted (-Xint)");
            if (a.startsWith("-XX:TieredStopAtLevel=")) {
                String level = a.substring(a.indexOf('=') + 1);
                if (!level.equals("4") && !level.equals("0")) return Optional.of("C2 is disabled (" + a + ")");
            }
            if (a.equals("-XX:-UseCompiler")) return Optional.of("the JIT is disabled (" + a + ")");
        }
        String vm = System.getProperty("java.vm.name", "");
        if (!vm.contains("Server") && !vm.contains("HotSpot")) {
            return Optional.of("JVM '" + vm + "' is not HotSpot with C2");
        }
        return Optional.empty();
    }

    @Override
    public Backend create() {
        return new VectorBackend();
    }
}
