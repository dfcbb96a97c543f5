package dev.corvus.chunking.models;

import dev.corvus.chunking.*;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import dev.corvus.tensor.testing.Close;
import org.junit.jupiter.api.Test;

class ScratchExploreTest {
    void explore(String name, Graph g, Tensor in) {
        ChunkedProgram plain = AutoChunk.unchunked(g);
        float[] ref; long t0 = System.nanoTime();
        try (Execution r = plain.run(in)) { ref = r.output(0).toFloatArray();
            System.out.printf("%s: nodes %d unchunked est %d meas %d  %.1f ms%n", name, g.size(), plain.estimatedPeakBytes(), r.peakBytes(), (System.nanoTime()-t0)/1e6); }
        double lo = 0, hi = 1;
        for (int it = 0; it < 12; it++) { double mid = (lo+hi)/2; try { AutoChunk.compile(g, (long)(plain.estimatedPeakBytes()*mid)); hi = mid; } catch (IllegalArgumentException e) { lo = mid; } }
        System.out.printf("  FLOOR fraction %.3f%n", hi);
        for (double f : new double[] {0.5, 0.2, 0.1, hi}) {
            long budget = (long) (plain.estimatedPeakBytes() * f);
            ChunkedProgram p;
            long c0 = System.nanoTime();
            try { p = AutoChunk.compile(g, budget); } catch (IllegalArgumentException e) { System.out.println("  " + f + ": " + e.getMessage()); continue; }
            long c1 = System.nanoTime();
            try (Execution r = p.run(in)) {
                float[] out = r.output(0).toFloatArray();
                double maxDiff = 0; for (int i = 0; i < out.length; i++) maxDiff = Math.max(maxDiff, Math.abs(out[i]-ref[i]));
                System.out.printf("  %.2f: budget %d est %d meas %d maxdiff %.3g compile %.0f ms run %.0f ms%n", f, budget, p.estimatedPeakBytes(), r.peakBytes(), maxDiff, (c1-c0)/1e6, (System.nanoTime()-c1)/1e6);
            }
            if (f == hi) System.out.print(p.explain().lines().filter(l -> !l.startsWith("    %")).reduce("", (a, b) -> a + b + "\n"));
            for (ChunkRegion r : p.regions()) if (r.extent() % r.chunkSize() != 0) { System.out.println("  nondiv"); break; }
            for (ChunkRegion r : p.regions()) if (r.outputs().size() > 1) System.out.println("  MULTI-OUTPUT region " + r.outputs());
        }
    }

    @Test
    void all() {
        try (MemoryScope w = MemoryScope.detached("w"); MemoryScope s = MemoryScope.open()) {
            var tc = new TransformerStack.Config(2, 32, 4, 88, 512, TransformerStack.Attention.MATERIALISED);
            explore("tf-mat", TransformerStack.trace(tc, w, 1), TransformerStack.input(tc, s, 2));
            var tf = new TransformerStack.Config(2, 32, 4, 128, 512, TransformerStack.Attention.FLASH);
            explore("tf-flash", TransformerStack.trace(tf, w, 1), TransformerStack.input(tf, s, 2));
            var ec = new EvoformerPairBlock.Config(1, 32, 16, 4, 8);
            explore("evo", EvoformerPairBlock.trace(ec, w, 1), EvoformerPairBlock.input(ec, s, 2));
            var vc = new VitEncoder.Config(2, 2, 256, 32, 4, false);
            explore("vit", VitEncoder.trace(vc, w, 1), VitEncoder.input(vc, s, 2));
            var vf = new VitEncoder.Config(2, 2, 256, 32, 4, true);
            explore("vit-flash", VitEncoder.trace(vf, w, 1), VitEncoder.input(vf, s, 2));
        }
    }
}
