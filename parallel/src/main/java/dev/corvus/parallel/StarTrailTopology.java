package dev.corvus.parallel;

/**
 * Who talks to whom in StarTrail (papers.md 2.2, Algorithms 2 and 3): P ranks in teams of C
 * consecutive ranks, teams in C groups of G = P/C² consecutive teams, and C² sub-rings of G ranks.
 * Pure arithmetic, no tensors.
 *
 * <p>Rank r = t·C + a is member a of team t; its team group is g = t / G and its position in the
 * group j = t mod G. Sub-ring (g, a) links member a of the G teams of group g. Initial placement
 * sends team t's keys and values from member a to member t mod C of team a·G + t / C; inverted,
 * rank (team g·G + j, member i) receives from member g of team j·C + i and holds that team's keys
 * and values. At ring iteration k it holds those of team ((j - k) mod G)·C + a, so member a of a
 * team sees exactly the key/value teams ≡ a (mod C), each once: the C members together see every
 * team once.
 */
public record StarTrailTopology(int ranks, int teamSize) {
    public StarTrailTopology {
        if (ranks < 1) throw new IllegalArgumentException("StarTrail needs at least one rank, got " + ranks);
        if (teamSize < 1 || ranks % teamSize != 0 || ranks % (teamSize * teamSize) != 0) {
            throw new IllegalArgumentException("StarTrail team size " + teamSize + " does not fit " + ranks
                    + " ranks: it must be at least 1 with its square dividing the rank count (C | P and C² | P)");
        }
    }

    /** Number of teams, P / C. */
    public int teams() {
        return ranks / teamSize;
    }

    /** Sub-ring length and ring iterations, G = P / C². */
    public int ringLength() {
        return ranks / (teamSize * teamSize);
    }

    /** The team of a rank. */
    public int team(int rank) {
        check(rank);
        return rank / teamSize;
    }

    /** The member index of a rank inside its team. */
    public int member(int rank) {
        check(rank);
        return rank % teamSize;
    }

    /** The team group (ring communication group) of a rank, in [0, C). */
    public int group(int rank) {
        return team(rank) / ringLength();
    }

    /** The rank of member {@code member} of team {@code team}. */
    public int rank(int team, int member) {
        if (team < 0 || team >= teams() || member < 0 || member >= teamSize) {
            throw new IllegalArgumentException("no member " + member + " of team " + team + " with " + teams() + " teams of " + teamSize);
        }
        return team * teamSize + member;
    }

    /** The ranks of a team, in member order. */
    public int[] teamRanks(int team) {
        int[] r = new int[teamSize];
        for (int a = 0; a < teamSize; a++) r[a] = rank(team, a);
        return r;
    }

    /** The ranks of sub-ring (group, member), in ring order. */
    public int[] subRing(int group, int member) {
        int g = ringLength();
        int[] r = new int[g];
        for (int j = 0; j < g; j++) r[j] = rank(group * g + j, member);
        return r;
    }

    /** The rank this one sends to in its sub-ring (Algorithm 3). */
    public int next(int rank) {
        int g = ringLength(), t = team(rank);
        return rank((t % g + 1) % g + group(rank) * g, member(rank));
    }

    /** The rank this one receives from in its sub-ring. */
    public int prev(int rank) {
        int g = ringLength(), t = team(rank);
        return rank((t % g + g - 1) % g + group(rank) * g, member(rank));
    }

    /** Where a rank sends its team's keys and values before the ring starts (Algorithm 2). */
    public int placementTarget(int rank) {
        int t = team(rank), a = member(rank);
        return rank(a * ringLength() + t / teamSize, t % teamSize);
    }

    /** The rank whose placement send this rank receives (the inverse of {@link #placementTarget}). */
    public int placementSource(int rank) {
        int g = ringLength(), t = team(rank);
        return rank((t % g) * teamSize + member(rank), t / g);
    }

    /** Whose team's keys and values this rank holds at ring iteration {@code iteration} (0-based). */
    public int heldTeam(int rank, int iteration) {
        if (iteration < 0 || iteration >= ringLength()) {
            throw new IllegalArgumentException("iteration " + iteration + " is outside [0, " + ringLength() + ")");
        }
        int g = ringLength(), j = team(rank) % g;
        return Math.floorMod(j - iteration, g) * teamSize + member(rank);
    }

    /** Which team's query packet this rank works on at backward step {@code step} (keys stay, queries travel). */
    public int visitingQueryTeam(int rank, int step) {
        if (step < 0 || step >= ringLength()) throw new IllegalArgumentException("step " + step + " is outside [0, " + ringLength() + ")");
        int g = ringLength(), t = team(rank);
        return group(rank) * g + Math.floorMod(t % g - step, g);
    }

    private void check(int rank) {
        if (rank < 0 || rank >= ranks) throw new IllegalArgumentException("rank " + rank + " is outside [0, " + ranks + ")");
    }
}
