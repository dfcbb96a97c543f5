package dev.corvus.opencl;

import dev.corvus.tensor.DType;
import java.util.Locale;
import java.util.Optional;

/**
 * Every kernel the OpenCL backend launches: the one place the Java side names them. A constant's
 * kernel name is its own name in lower case ({@code BINARY_F32} is {@code binary_f32} in
 * {@code elementwise.cl}), and {@link ProgramCache#kernel(ClKernels, String)} takes only these, so
 * the backend cannot ask for a name that is spelled nowhere else. {@code ClKernelsTest} reads the
 * {@code kernel void} declarations of every {@code .cl} resource (macro-made ones expanded) and
 * checks them against this table both ways: no kernel the backend asks for is missing, no kernel
 * in a source is dead. The kernel families (strided copies, embeddings) are found by their
 * dtypes, so a dtype pair without a kernel is refused here, not by a failed clCreateKernel.
 */
enum ClKernels {
    COPY_F32_F32(Family.STRIDED_COPY, DType.F32, DType.F32),
    COPY_F32_F16(Family.STRIDED_COPY, DType.F32, DType.F16),
    COPY_F32_BF16(Family.STRIDED_COPY, DType.F32, DType.BF16),
    COPY_F16_F32(Family.STRIDED_COPY, DType.F16, DType.F32),
    COPY_F16_F16(Family.STRIDED_COPY, DType.F16, DType.F16),
    COPY_F16_BF16(Family.STRIDED_COPY, DType.F16, DType.BF16),
    COPY_BF16_F32(Family.STRIDED_COPY, DType.BF16, DType.F32),
    COPY_BF16_F16(Family.STRIDED_COPY, DType.BF16, DType.F16),
    COPY_BF16_BF16(Family.STRIDED_COPY, DType.BF16, DType.BF16),
    COPY_I32_I32(Family.STRIDED_COPY, DType.I32, DType.I32),
    Q8_TO_F32("copy.cl"),
    F32_TO_Q8("copy.cl"),

    BINARY_F32("elementwise.cl"),
    UNARY_F32("elementwise.cl"),
    SCALE_F32("elementwise.cl"),

    REDUCE_F32("reduce.cl"),
    ARGMAX_F32("reduce.cl"),

    EMBEDDING_F32(Family.EMBEDDING, DType.F32, DType.F32),
    EMBEDDING_F16(Family.EMBEDDING, DType.F16, DType.F32),
    EMBEDDING_BF16(Family.EMBEDDING, DType.BF16, DType.F32),
    EMBEDDING_Q8(Family.EMBEDDING, DType.Q8_0, DType.F32),

    GEMM("matmul.cl"),
    GEMV("matmul.cl"),
    GEMV_ROWS("matmul.cl"),

    SOFTMAX_F32("rows.cl"),
    RMSNORM_F32("rows.cl"),
    LAYERNORM_F32("rows.cl"),
    ROPE_F32("rows.cl"),

    ATTENTION_FWD_F32("attention.cl");

    /** Kernels made per dtype by one macro of one source. */
    enum Family {
        STRIDED_COPY("copy.cl"),
        EMBEDDING("embedding.cl");

        final String resource;

        Family(String resource) {
            this.resource = resource;
        }
    }

    /** The source resource (under {@link ProgramCache#RESOURCE_DIR}) that defines the kernel. */
    final String resource;
    private final Family family;
    private final DType from, to;

    ClKernels(String resource) {
        this.resource = resource;
        this.family = null;
        this.from = null;
        this.to = null;
    }

    ClKernels(Family family, DType from, DType to) {
        this.resource = family.resource;
        this.family = family;
        this.from = from;
        this.to = to;
    }

    /** The {@code kernel void} function's name in {@link #resource}. */
    String kernelName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The element-wise strided copy from {@code s} to {@code d}, if there is one. */
    static Optional<ClKernels> stridedCopy(DType s, DType d) {
        return find(Family.STRIDED_COPY, s, d);
    }

    /** The embedding gather from a {@code table} table to F32, if there is one. */
    static Optional<ClKernels> embedding(DType table) {
        return find(Family.EMBEDDING, table, DType.F32);
    }

    private static Optional<ClKernels> find(Family family, DType from, DType to) {
        for (ClKernels k : values()) if (k.family == family && k.from == from && k.to == to) return Optional.of(k);
        return Optional.empty();
    }
}
