package dev.corvus.vector;

/**
 * How many rows x columns of accumulators a micro-kernel keeps in vector registers, for
 * {@link Gemm} and {@link VectorTileKernels} alike. Each step loads {@link #COLUMN_VECTORS}
 * vectors of B, broadcasts one value of A per row and issues rows x {@link #COLUMN_VECTORS}
 * FMAs into accumulators that never leave registers, so the tile is sized by the register file:
 * <ul>
 *   <li>32 vector registers (AVX-512, NEON, SVE): the packed GEMM runs 12 x 2 vectors (24
 *       accumulators + 2 B + 1 broadcast); the heap-tile kernels 8 x 2, because 8 rows divide
 *       the 64- and 128-row tiles flash attention hands them;</li>
 *   <li>16 (AVX2): 6 x 2 (12 accumulators + 2 B + 1 broadcast) is the largest C2 compiles
 *       without spilling (12 x 2 spilled and ran at 60% of 6 x 2 there, measured with
 *       -XX:UseAVX=2).</li>
 * </ul>
 * Two vectors wide rather than three: tall tiles amortize the B loads over more rows, and 12 x 2
 * beat 8 x 3 by about 10% when measured.
 */
final class RegisterTile {
    private RegisterTile() {}

    /** 32 architectural vector registers rather than 16. */
    static final boolean WIDE_REGISTER_FILE =
            VectorShapes.F.vectorBitSize() >= 512 || "aarch64".equals(System.getProperty("os.arch"));
    /** Vectors of B per step: the tile's width is this many vectors. */
    static final int COLUMN_VECTORS = 2;
    /** Tile width in floats. */
    static final int COLUMNS = COLUMN_VECTORS * VectorShapes.FL;
    /** Tile height of the packed GEMM. */
    static final int GEMM_ROWS = WIDE_REGISTER_FILE ? 12 : 6;
    /** Tile height of the heap-tile kernels. */
    static final int TILE_ROWS = WIDE_REGISTER_FILE ? 8 : 6;
}
