package dev.corvus.tensor;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.ServiceLoader;

/**
 * Chooses the CPU backend once, through explicit ordered checks, and logs one line saying which
 * and why (after Lucene's vectorization provider):
 * <ol>
 *   <li>{@code -Dcorvus.backend=NAME} forces a backend; a forced backend that cannot run is an error;</li>
 *   <li>otherwise the available provider with the highest priority wins (the Vector API backend
 *       checks that jdk.incubator.vector is readable, that C2 is on and the vector width);</li>
 *   <li>the scalar reference backend is always there as the fallback; falling back to it logs a
 *       WARNING that names what is missing (the module, or the JVM flag).</li>
 * </ol>
 */
public final class Backends {
    public static final String PROPERTY = "corvus.backend";
    private static final System.Logger LOG = System.getLogger("dev.corvus.tensor.Backends");

    private Backends() {}

    /** The selected CPU backend and the reason it was chosen. */
    public record Selection(Backend backend, String reason) {}

    private static final class Holder {
        static final List<BackendProvider> PROVIDERS = providers();
        static final Selection CPU = select(System.getProperty(PROPERTY), PROVIDERS.stream().filter(p -> p.priority() >= 0).toList());

        static {
            Optional<String> warning = scalarWarning(CPU, System.getProperty(PROPERTY));
            if (warning.isPresent()) LOG.log(Level.WARNING, warning.get());
            else LOG.log(Level.INFO, "Corvus backend: " + CPU.backend().name() + " (" + CPU.reason() + ")");
        }
    }

    private static final Backend SCALAR = new ScalarBackend();

    /** The CPU backend every op on CPU tensors runs on. */
    public static Backend cpu() {
        return Holder.CPU.backend();
    }

    /** The CPU backend, with why it was chosen. */
    public static Selection cpuSelection() {
        return Holder.CPU;
    }

    /** The scalar reference tile kernels (the oracle for tests of other TileKernels). */
    public static TileKernels scalarTiles() {
        return ScalarTileKernels.INSTANCE;
    }

    /** The scalar reference backend (the oracle for tests). */
    public static Backend scalar() {
        return SCALAR;
    }

    /** A specific backend by provider name (benchmarks compare them side by side); an error if it cannot run. */
    public static Backend named(String name) {
        return select(name, providers()).backend();
    }

    /** The backend for tensors on {@code device}. */
    public static Backend of(Device device) {
        if (device.equals(Device.CPU)) return cpu();
        for (BackendProvider p : Holder.PROVIDERS) {
            Optional<Backend> b = p.forDevice(device);
            if (b.isPresent()) return b.get();
        }
        throw new IllegalStateException("no backend on the class path drives device " + device
                + " (is the module for it, e.g. corvus-opencl-backend, a dependency?)");
    }

    /** The device a spec names: "cpu", or whatever a provider understands ("opencl", "opencl:0:1"). */
    public static Device device(String spec) {
        String s = spec.trim().toLowerCase(Locale.ROOT);
        if (s.equals("cpu")) return Device.CPU;
        for (BackendProvider p : Holder.PROVIDERS) {
            Optional<Device> d = p.parseDevice(s);
            if (d.isPresent()) return d.get();
        }
        throw new IllegalArgumentException("unknown device '" + spec + "'; known: cpu"
                + (Holder.PROVIDERS.stream().anyMatch(p -> p.name().equals("opencl")) ? ", opencl, opencl:<platform>:<device>" : ""));
    }

    /** Every provider found on the class path, plus the built-in scalar one. */
    public static List<BackendProvider> providers() {
        List<BackendProvider> list = new ArrayList<>();
        list.add(new ScalarBackend.Provider());
        for (BackendProvider p : ServiceLoader.load(BackendProvider.class, Backends.class.getClassLoader())) list.add(p);
        list.sort(Comparator.comparingInt(BackendProvider::priority).reversed());
        return list;
    }

    static Selection select(String forced, List<BackendProvider> providers) {
        if (forced != null && !forced.isBlank()) {
            String name = forced.trim().toLowerCase(Locale.ROOT);
            for (BackendProvider p : providers) {
                if (!p.name().equals(name)) continue;
                Optional<String> why = p.unavailableReason();
                if (why.isPresent()) {
                    throw new IllegalStateException("-D" + PROPERTY + "=" + name + " was asked for but cannot run: " + why.get());
                }
                return new Selection(p.create(), "forced by -D" + PROPERTY + "=" + name);
            }
            throw new IllegalStateException("-D" + PROPERTY + "=" + name + ": no such CPU backend; known: "
                    + providers.stream().map(BackendProvider::name).toList());
        }
        List<String> skipped = new ArrayList<>();
        for (BackendProvider p : providers) {
            Optional<String> why = p.unavailableReason();
            if (why.isEmpty()) {
                Backend b = p.create();
                String reason = skipped.isEmpty() ? b.description() : b.description() + "; skipped " + String.join("; ", skipped);
                // Without this, a missing module reads like a deliberate choice.
                if (p.priority() == 0 && providers.stream().noneMatch(q -> q.priority() > 0)) reason += "; " + NO_FAST_BACKEND;
                return new Selection(b, reason);
            }
            skipped.add(p.name() + ": " + why.get());
        }
        throw new IllegalStateException("no backend can run: " + skipped);
    }

    static final String NO_FAST_BACKEND = "corvus-vector-backend is not on the class path: add the dependency "
            + "dev.corvus:corvus-vector-backend (corvus-model brings it at runtime)";

    /**
     * The one warning line for a selection that fell back to the scalar reference backend, so that
     * a missing module or JVM flag does not go unnoticed; empty when a faster backend was chosen or
     * scalar was asked for by name.
     */
    static Optional<String> scalarWarning(Selection selection, String forced) {
        if (forced != null && !forced.isBlank()) return Optional.empty();
        if (!selection.backend().name().equals(SCALAR.name())) return Optional.empty();
        return Optional.of("Corvus backend: " + selection.reason() + ". The scalar kernels are several times slower"
                + " (6-19x measured on generation); -D" + PROPERTY + "=scalar chooses them on purpose and silences this.");
    }
}
