package dev.corvus.engine;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class StopMatcherTest {
    @Test
    void textWithoutStopStringsPassesThrough() {
        StopMatcher m = new StopMatcher(List.of());
        assertThat(m.append("Once")).isEqualTo("Once");
        assertThat(m.append(" upon")).isEqualTo(" upon");
        assertThat(m.flush()).isEmpty();
        assertThat(m.text()).isEqualTo("Once upon");
    }

    @Test
    void holdsBackAPossibleStartAndReleasesItWhenItIsNot() {
        StopMatcher m = new StopMatcher(List.of("\n\nUser:"));
        assertThat(m.append("Hi.\n")).isEqualTo("Hi.");
        assertThat(m.append("\nUs")).isEmpty();
        assertThat(m.append("ually")).isEqualTo("\n\nUsually");
        assertThat(m.stopped()).isFalse();
    }

    @Test
    void stopsAtTheFirstStopStringSpanningPieces() {
        StopMatcher m = new StopMatcher(List.of("END", "ND!"));
        assertThat(m.append("the E")).isEqualTo("the ");
        assertThat(m.append("ND! more")).isEmpty();
        assertThat(m.stopped()).isTrue();
        assertThat(m.text()).isEqualTo("the ");
        assertThat(m.append("x")).isEmpty();
        assertThat(m.flush()).isEmpty();
    }

    @Test
    void flushReleasesTheHeldTailWhenGenerationEnds() {
        StopMatcher m = new StopMatcher(List.of("###"));
        assertThat(m.append("a ##")).isEqualTo("a ");
        assertThat(m.flush()).isEqualTo("##");
        assertThat(m.text()).isEqualTo("a ##");
    }
}
