package dev.corvus.dit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.dit.MovingSquares.Clip;
import dev.corvus.dit.MovingSquares.Square;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** The moving-squares generator: deterministic per seed, squares move by their velocity, bounce, stay in frame and are drawn where they are. */
class MovingSquaresTest {

    @ParameterizedTest(name = "seed={0} frames={1} size={2} squares={3}")
    @CsvSource({"1,16,32,3", "2,32,32,4", "3,24,32,1", "4,7,13,5", "5,32,4,2"})
    void squaresMoveByTheirVelocityAndStayInFrame(long seed, int frames, int size, int squares) {
        Clip clip = MovingSquares.generate(seed, frames, size, squares);
        assertThat(clip.squares()).hasSize(squares);
        int bounces = 0;
        for (Square sq : clip.squares()) {
            double room = size - sq.side();
            assertThat(sq.side()).isBetween(1, Math.max(1, size / 4));
            for (int f = 0; f < frames; f++) {
                assertThat(sq.x()[f]).as("x in frame " + f).isBetween(0.0, room);
                assertThat(sq.y()[f]).as("y in frame " + f).isBetween(0.0, room);
                assertThat(sq.column(f)).isBetween(0, size - sq.side());
                assertThat(sq.row(f)).isBetween(0, size - sq.side());
                assertThat(Math.abs(sq.vx()[f])).as("speed is constant").isEqualTo(Math.abs(sq.vx()[0]));
                assertThat(Math.abs(sq.vy()[f])).isEqualTo(Math.abs(sq.vy()[0]));
                assertThat(Math.abs(sq.vx()[0])).isBetween(0.5, 2.5);
                if (f == 0) continue;
                for (double[][] axis : new double[][][] {{sq.x(), sq.vx()}, {sq.y(), sq.vy()}}) {
                    double pos = axis[0][f - 1], v = axis[1][f - 1], next = pos + v;
                    if (next >= 0 && next <= room) {
                        assertThat(axis[0][f]).as("moved by its velocity").isEqualTo(next);
                        assertThat(axis[1][f]).isEqualTo(v);
                    } else {
                        bounces++;
                        assertThat(axis[1][f]).as("velocity flips at a wall").isEqualTo(-v);
                        assertThat(axis[0][f]).as("overshoot folded back").isEqualTo(next < 0 ? -next : 2 * room - next);
                    }
                }
            }
        }
        if (frames >= 24 && squares > 0 && size == 32) assertThat(bounces).as("a long clip bounces at least once").isPositive();
    }

    @Test
    void theLastSquareIsDrawnAtItsPositionInEveryFrame() {
        Clip clip = MovingSquares.generate(7, 20, 32, 3);
        Square top = clip.squares().getLast();
        float[] rgb = clip.rgb();
        for (int f = 0; f < 20; f++) {
            for (int r = 0; r < 32; r++) {
                for (int c = 0; c < 32; c++) {
                    boolean inside = r >= top.row(f) && r < top.row(f) + top.side() && c >= top.column(f) && c < top.column(f) + top.side();
                    int at = ((f * 32 + r) * 32 + c) * 3;
                    if (inside) assertThat(new float[] {rgb[at], rgb[at + 1], rgb[at + 2]}).containsExactly(top.red(), top.green(), top.blue());
                }
            }
        }
        // Pixels no square covers are black, and some pixel changes between consecutive frames.
        int black = 0;
        for (float v : rgb) if (v == 0) black++;
        assertThat(black).isGreaterThan(rgb.length / 2);
        for (int f = 1; f < 20; f++) {
            boolean changed = false;
            for (int i = 0; i < 32 * 32 * 3 && !changed; i++) changed = rgb[(f - 1) * 32 * 32 * 3 + i] != rgb[f * 32 * 32 * 3 + i];
            assertThat(changed).as("frame " + f + " differs from frame " + (f - 1)).isTrue();
        }
    }

    @Test
    void sameSeedSameClipOtherSeedOtherClip() {
        assertThat(MovingSquares.generate(11, 16, 32, 3).rgb()).containsExactly(MovingSquares.generate(11, 16, 32, 3).rgb());
        assertThat(MovingSquares.generate(11, 16, 32, 3).rgb()).isNotEqualTo(MovingSquares.generate(12, 16, 32, 3).rgb());
    }

    @Test
    void badArgumentsAreRefused() {
        assertThatThrownBy(() -> MovingSquares.generate(1, 0, 32, 3)).hasMessageContaining("frames = 0, expected 1..256");
        assertThatThrownBy(() -> MovingSquares.generate(1, 16, 3, 3)).hasMessageContaining("size = 3, expected at least 4");
        assertThatThrownBy(() -> MovingSquares.generate(1, 16, 32, -1)).hasMessageContaining("squares = -1");
    }
}
