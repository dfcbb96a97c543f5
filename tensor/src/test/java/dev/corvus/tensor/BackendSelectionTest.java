package dev.corvus.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.tensor.testing.BackendChoice;
import java.lang.reflect.Proxy;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Which CPU backend is chosen, and that falling back to the scalar one is loud and says why. */
class BackendSelectionTest {
    /** A stand-in for a faster CPU backend module, available or not. */
    private record FastProvider(Optional<String> unavailable) implements BackendProvider {
        @Override public String name() { return "fast"; }
        @Override public int priority() { return 100; }
        @Override public Optional<String> unavailableReason() { return unavailable; }
        @Override public Backend create() {
            // Only its name and description are read while choosing.
            return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class},
                    (proxy, m, args) -> switch (m.getName()) {
                        case "name" -> "fast";
                        case "description" -> "fast kernels";
                        default -> throw new UnsupportedOperationException(m.getName());
                    });
        }
    }

    private static final BackendProvider SCALAR = new ScalarBackend.Provider();

    @Test
    void scalarAloneOnTheClassPathNamesTheMissingModule() {
        Backends.Selection s = Backends.select(null, List.of(SCALAR));
        assertThat(s.backend().name()).isEqualTo("scalar");
        assertThat(s.reason()).contains("corvus-vector-backend is not on the class path");
        assertThat(Backends.scalarWarning(s, null)).hasValueSatisfying(w -> assertThat(w)
                .contains("dev.corvus:corvus-vector-backend").contains("slower").doesNotContain("\n"));
    }

    @Test
    void anUnavailableFastBackendIsNamedWithItsReason() {
        String why = "jdk.incubator.vector is not readable: start the JVM with --add-modules jdk.incubator.vector";
        Backends.Selection s = Backends.select(null, List.of(new FastProvider(Optional.of(why)), SCALAR));
        assertThat(s.backend().name()).isEqualTo("scalar");
        assertThat(Backends.scalarWarning(s, null)).hasValueSatisfying(w -> assertThat(w)
                .contains("fast: " + why).doesNotContain("not on the class path").doesNotContain("\n"));
    }

    @Test
    void noWarningWhenTheFastBackendRunsOrScalarIsAskedFor() {
        Backends.Selection fast = Backends.select(null, List.of(new FastProvider(Optional.empty()), SCALAR));
        assertThat(fast.backend().name()).isEqualTo("fast");
        assertThat(Backends.scalarWarning(fast, null)).isEmpty();
        Backends.Selection forced = Backends.select("scalar", List.of(new FastProvider(Optional.empty()), SCALAR));
        assertThat(forced.backend().name()).isEqualTo("scalar");
        assertThat(Backends.scalarWarning(forced, "scalar")).isEmpty();
    }

    @Test
    void thisModuleAloneLogsOneWarningNamingTheVectorBackendModule() throws Exception {
        // tensor's test class path has no corvus-vector-backend: a consumer who forgot it.
        BackendChoice.Result r = BackendChoice.run(List.of("--add-modules", "jdk.incubator.vector"));
        assertThat(r.backend()).isEqualTo("scalar");
        assertThat(r.logLines()).singleElement().satisfies(l -> assertThat(l)
                .startsWith("WARNING: Corvus backend:").contains("corvus-vector-backend is not on the class path"));
    }
}
