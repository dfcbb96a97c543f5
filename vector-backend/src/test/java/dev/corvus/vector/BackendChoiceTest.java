package dev.corvus.vector;

import static org.assertj.core.api.Assertions.assertThat;

import dev.corvus.tensor.testing.BackendChoice;
import java.util.List;
import org.junit.jupiter.api.Test;

/** With this module on the class path, the JVM flag alone decides, and its absence is one WARNING that names it. */
class BackendChoiceTest {
    @Test
    void withoutTheIncubatorModuleOneWarningNamesTheFlag() throws Exception {
        BackendChoice.Result r = BackendChoice.run(List.of());
        assertThat(r.backend()).isEqualTo("scalar");
        assertThat(r.logLines()).singleElement().satisfies(l -> assertThat(l)
                .startsWith("WARNING: Corvus backend:").contains("--add-modules jdk.incubator.vector")
                .doesNotContain("not on the class path"));
    }

    @Test
    void withItTheVectorBackendRunsAndNothingIsWarned() throws Exception {
        BackendChoice.Result r = BackendChoice.run(List.of("--add-modules", "jdk.incubator.vector"));
        assertThat(r.backend()).isEqualTo("vector");
        assertThat(r.logLines()).singleElement().satisfies(l -> assertThat(l).startsWith("INFO: Corvus backend: vector"));
    }
}
