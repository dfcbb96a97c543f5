package dev.corvus.parallel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class StarTrailTopologyTest {
    /** Every (P, C) with P in {1, 2, 4, ..., 64} and C a valid team size. */
    static Stream<Arguments> validSizes() {
        List<Arguments> list = new ArrayList<>();
        for (int p : new int[] {1, 2, 4, 8, 16, 32, 64}) {
            for (int c = 1; c * c <= p; c++) if (p % (c * c) == 0) list.add(Arguments.of(p, c));
        }
        return list.stream();
    }

    @ParameterizedTest(name = "P={0}, C={1}")
    @MethodSource("validSizes")
    void placementIsABijectionAndItsInverseIsRight(int p, int c) {
        StarTrailTopology topo = new StarTrailTopology(p, c);
        Set<Integer> targets = new HashSet<>();
        for (int r = 0; r < p; r++) {
            int target = topo.placementTarget(r);
            assertThat(targets.add(target)).as("rank %d's target %d is taken twice", r, target).isTrue();
            assertThat(topo.placementSource(target)).isEqualTo(r);
            // What a rank holds first is the team of the rank that placed it there.
            assertThat(topo.heldTeam(target, 0)).isEqualTo(topo.team(r));
            // A rank keeps its own block iff its team t = j·C + a (a its member index) has a·(G-1) = j·(C-1).
            int t = topo.team(r), a = topo.member(r), j = t / c;
            assertThat(target == r).as("rank %d stays home", r).isEqualTo(t % c == a && a * (topo.ringLength() - 1) == j * (c - 1));
        }
        assertThat(targets).hasSize(p);
    }

    @ParameterizedTest(name = "P={0}, C={1}")
    @MethodSource("validSizes")
    void subRingsPartitionTheRanksIntoCSquaredCyclesOfLengthG(int p, int c) {
        StarTrailTopology topo = new StarTrailTopology(p, c);
        int g = topo.ringLength();
        assertThat(g * c * c).isEqualTo(p);
        Set<Integer> seen = new HashSet<>();
        int rings = 0;
        for (int group = 0; group < c; group++) {
            for (int member = 0; member < c; member++) {
                int[] ring = topo.subRing(group, member);
                rings++;
                assertThat(ring).hasSize(g);
                for (int i = 0; i < g; i++) {
                    assertThat(seen.add(ring[i])).as("rank %d in two sub-rings", ring[i]).isTrue();
                    assertThat(topo.next(ring[i])).isEqualTo(ring[(i + 1) % g]);
                    assertThat(topo.prev(ring[(i + 1) % g])).isEqualTo(ring[i]);
                    assertThat(topo.group(ring[i])).isEqualTo(group);
                    assertThat(topo.member(ring[i])).isEqualTo(member);
                }
                // Following next from any member returns after exactly G hops.
                int r = ring[0], hops = 0;
                do {
                    r = topo.next(r);
                    hops++;
                } while (r != ring[0]);
                assertThat(hops).isEqualTo(g);
            }
        }
        assertThat(rings).isEqualTo(c * c);
        assertThat(seen).hasSize(p);
    }

    @ParameterizedTest(name = "P={0}, C={1}")
    @MethodSource("validSizes")
    void everyQueryTeamMeetsEveryKeyValueTeamExactlyOnce(int p, int c) {
        StarTrailTopology topo = new StarTrailTopology(p, c);
        int teams = topo.teams();
        int[][] forward = new int[teams][teams], backward = new int[teams][teams];
        for (int r = 0; r < p; r++) {
            for (int i = 0; i < topo.ringLength(); i++) {
                int held = topo.heldTeam(r, i);
                forward[topo.team(r)][held]++;
                // In the backward pass the keys stay where placement put them and query teams visit.
                // ... and the query packet worked on here moves on to the next rank for the next step.
                if (i == 0) assertThat(topo.visitingQueryTeam(r, 0)).isEqualTo(topo.team(r));
                if (i + 1 < topo.ringLength()) assertThat(topo.visitingQueryTeam(topo.next(r), i + 1)).isEqualTo(topo.visitingQueryTeam(r, i));
                backward[topo.visitingQueryTeam(r, i)][topo.heldTeam(r, 0)]++;
                // The keys held move one hop along the sub-ring per iteration.
                if (i > 0) assertThat(held).isEqualTo(topo.heldTeam(topo.prev(r), i - 1));
            }
        }
        for (int qt = 0; qt < teams; qt++) {
            for (int kt = 0; kt < teams; kt++) {
                assertThat(forward[qt][kt]).as("forward: query team %d, key team %d", qt, kt).isEqualTo(1);
                assertThat(backward[qt][kt]).as("backward: query team %d, key team %d", qt, kt).isEqualTo(1);
            }
        }
    }

    @ParameterizedTest(name = "P={0}")
    @MethodSource("powersOfTwo")
    void teamSizeOneIsAPlainRing(int p) {
        StarTrailTopology topo = new StarTrailTopology(p, 1);
        assertThat(topo.ringLength()).isEqualTo(p);
        for (int r = 0; r < p; r++) {
            assertThat(topo.next(r)).isEqualTo((r + 1) % p);
            assertThat(topo.prev(r)).isEqualTo((r + p - 1) % p);
            assertThat(topo.placementTarget(r)).isEqualTo(r);
            for (int i = 0; i < p; i++) assertThat(topo.heldTeam(r, i)).isEqualTo(Math.floorMod(r - i, p));
        }
    }

    @ParameterizedTest(name = "P={0}")
    @MethodSource("squares")
    void teamSizeRootPHasNoRing(int p) {
        int c = (int) Math.round(Math.sqrt(p));
        StarTrailTopology topo = new StarTrailTopology(p, c);
        assertThat(topo.ringLength()).isEqualTo(1);
        for (int r = 0; r < p; r++) assertThat(topo.next(r)).isEqualTo(r);
        // Placement is the transpose of the C x C grid of (team, member): only the diagonal stays home.
        for (int r = 0; r < p; r++) {
            assertThat(topo.placementTarget(r)).isEqualTo(topo.member(r) * c + topo.team(r));
        }
    }

    @Test
    void paperExampleSixtyFourRanksTeamsOfFour() {
        StarTrailTopology topo = new StarTrailTopology(64, 4);
        assertThat(topo.teams()).isEqualTo(16);
        assertThat(topo.ringLength()).isEqualTo(4);
        assertThat(topo.subRing(1, 2)).containsExactly(18, 22, 26, 30);
    }

    @Test
    void invalidTeamSizesAreRefused() {
        assertThatThrownBy(() -> new StarTrailTopology(8, 4)).hasMessageContaining("team size 4").hasMessageContaining("8 ranks");
        assertThatThrownBy(() -> new StarTrailTopology(8, 3)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new StarTrailTopology(32, 8)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new StarTrailTopology(4, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new StarTrailTopology(0, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new StarTrailTopology(4, 2).placementTarget(4)).hasMessageContaining("rank 4");
    }

    static IntStream powersOfTwo() {
        return IntStream.of(1, 2, 4, 8, 16, 32, 64);
    }

    static IntStream squares() {
        return IntStream.of(1, 4, 16, 64);
    }
}
