package dev.corvus.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/** View algebra: any chain of views reads the same elements as index arithmetic says it should. */
class ViewPropertiesTest {
    private static int[] randomShape(Random r, int rank) {
        int[] s = new int[rank];
        for (int i = 0; i < rank; i++) s[i] = 1 + r.nextInt(5);
        return s;
    }

    private static Tensor iota(int[] shape) {
        float[] v = new float[(int) Shapes.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = i;
        return Tensor.of(v, shape);
    }

    @Property(tries = 200)
    void permuteThenContiguousMovesEveryElement(@ForAll long seed, @ForAll @IntRange(min = 1, max = 4) int rank) {
        Random r = new Random(seed);
        try (MemoryScope s = MemoryScope.open()) {
            int[] shape = randomShape(r, rank);
            Tensor x = iota(shape);
            List<Integer> order = new ArrayList<>();
            for (int i = 0; i < rank; i++) order.add(i);
            Collections.shuffle(order, r);
            int[] perm = order.stream().mapToInt(Integer::intValue).toArray();
            Tensor p = x.permute(perm).contiguous();
            // Element at index j of p is the element of x at index j scattered back through perm.
            int[] pShape = p.shape();
            int[] j = new int[rank];
            for (long lin = 0; lin < p.numel(); lin++) {
                long rest = lin;
                for (int d = rank - 1; d >= 0; d--) {
                    j[d] = (int) (rest % pShape[d]);
                    rest /= pShape[d];
                }
                int[] src = new int[rank];
                for (int d = 0; d < rank; d++) src[perm[d]] = j[d];
                assertThat(p.get(j)).isEqualTo(x.get(src));
            }
        }
    }

    @Property(tries = 200)
    void narrowOfNarrowIsOneNarrowAndTransposeTwiceIsIdentity(@ForAll long seed) {
        Random r = new Random(seed);
        try (MemoryScope s = MemoryScope.open()) {
            int[] shape = randomShape(r, 3);
            shape[1] += 4;
            Tensor x = iota(shape);
            int start = r.nextInt(shape[1]), len = r.nextInt(shape[1] - start + 1);
            int start2 = len == 0 ? 0 : r.nextInt(len), len2 = len == 0 ? 0 : r.nextInt(len - start2 + 1);
            Tensor twice = x.narrow(1, start, len).narrow(1, start2, len2);
            Tensor once = x.narrow(1, start + start2, len2);
            assertThat(twice.toFloatArray()).containsExactly(once.toFloatArray());
            assertThat(x.transpose(0, 2).transpose(2, 0).toFloatArray()).containsExactly(x.toFloatArray());
        }
    }

    @Property(tries = 100)
    void broadcastAddMatchesExplicitExpand(@ForAll long seed) {
        Random r = new Random(seed);
        try (MemoryScope s = MemoryScope.open()) {
            int[] shape = randomShape(r, 3);
            int[] small = shape.clone();
            for (int d = 0; d < 3; d++) if (r.nextBoolean()) small[d] = 1;
            Tensor a = Tensor.randn(seed, shape), b = Tensor.randn(seed + 1, small);
            float[] viaBroadcast = Ops.add(b, a).toFloatArray();
            float[] viaExpand = Ops.add(a, b.expand(shape).contiguous()).toFloatArray();
            assertThat(viaBroadcast).containsExactly(viaExpand);
        }
    }
}
