package dev.corvus.opencl;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The kernel names the Java side asks for ({@link ClKernels}) against the {@code kernel void}
 * declarations in the .cl resources, both ways: a name in the table that no source declares
 * would fail at clCreateKernel on first use; a declared kernel the table lacks is dead code.
 * Kernels a macro makes ({@code #define COPY(S, D) kernel void copy_##S##_##D(...)} then
 * {@code COPY(f32, f16)}) are expanded. The first test needs no OpenCL device.
 */
class ClKernelsTest {
    /** Every kernel source; common.cl holds helpers only. */
    private static final List<String> SOURCES = List.of("attention.cl", "common.cl", "copy.cl", "elementwise.cl", "embedding.cl", "matmul.cl",
            "reduce.cl", "rows.cl");

    private static final Pattern PLAIN = Pattern.compile("(?m)^\\s*(?:__)?kernel\\s+void\\s+(\\w+)\\s*\\(");
    private static final Pattern MACRO = Pattern.compile("(?m)^\\s*#define\\s+(\\w+)\\(([^)]*)\\)\\s*\\\\\\s*\\n\\s*(?:__)?kernel\\s+void\\s+([\\w#]+)\\s*\\(");

    @Test
    void theTableNamesExactlyTheKernelsTheSourcesDeclare() throws IOException {
        assertThat(resourcesOnTheClassPath()).as("every .cl resource is listed here, so none goes unchecked").isEqualTo(new TreeSet<>(SOURCES));
        Set<String> declared = new TreeSet<>();
        for (String r : SOURCES) for (String name : declaredKernels(raw(r))) declared.add(r + ": " + name);
        Set<String> asked = Arrays.stream(ClKernels.values()).map(k -> k.resource + ": " + k.kernelName()).collect(Collectors.toCollection(TreeSet::new));
        assertThat(declared).as("kernels declared in the .cl sources and missing from ClKernels (dead, or not yet named)").isSubsetOf(asked);
        assertThat(asked).as("ClKernels entries no .cl source declares").isSubsetOf(declared);
        assertThat(declared).as("the macro-made copies are found").contains("copy.cl: copy_bf16_f16", "embedding.cl: embedding_f16");
    }

    @Test
    void theParserSeesPlainAndMacroMadeKernelsAndNothingElse() {
        String src = """
                // kernel void commented_out(global float* x) {}
                #define PAIR(A, B) \\
                kernel void pair_##A##_##B(global float* x) { \\
                    x[0] = 1; \\
                }
                PAIR(f32, f16) PAIR(i32, i32)
                kernel void plain_one(global float* x) {}
                __kernel void plain_two(global float* x) {}
                static float helper(float x) { return x; }
                """;
        assertThat(declaredKernels(src)).containsExactlyInAnyOrder("pair_f32_f16", "pair_i32_i32", "plain_one", "plain_two");
    }

    /** Every table entry is a kernel the device compiler finds in its program, built with the backend's options. */
    @Test
    void everyTableEntryCreatesAKernelOnTheDevice() {
        ProgramCache cache = OpenClBackendProvider.backend(OpenClTestSupport.device()).programs();
        Map<String, String> options = Map.of("copy.cl", OpenClBackend.EXACT, "elementwise.cl", OpenClBackend.ELEMENTWISE, "reduce.cl",
                OpenClBackend.REDUCE, "embedding.cl", "", "matmul.cl", OpenClBackend.MATMUL_OPTIONS + " -DB_F32", "rows.cl", OpenClBackend.EXACT,
                "attention.cl", OpenClBackend.EXACT + " -DHEAD_D=64 -DBC=32");
        for (ClKernels k : ClKernels.values()) assertThat(cache.kernel(k, options.get(k.resource))).as(k.name()).isNotNull();
    }

    /** The kernel names a source declares, macro instantiations expanded. */
    static List<String> declaredKernels(String source) {
        List<String> names = new java.util.ArrayList<>();
        Matcher plain = PLAIN.matcher(source);
        while (plain.find()) names.add(plain.group(1));
        Matcher macro = MACRO.matcher(source);
        while (macro.find()) {
            String[] params = Arrays.stream(macro.group(2).split(",")).map(String::trim).toArray(String[]::new);
            String template = macro.group(3);
            String rest = source.substring(macro.end());
            Matcher use = Pattern.compile("\\b" + macro.group(1) + "\\(([^)]*)\\)").matcher(rest);
            while (use.find()) {
                String[] args = Arrays.stream(use.group(1).split(",")).map(String::trim).toArray(String[]::new);
                assertThat(args).as("arguments of %s", use.group()).hasSameSizeAs(params);
                String name = template;
                for (int i = 0; i < params.length; i++) name = name.replaceAll("\\b" + params[i] + "\\b", args[i]);
                names.add(name.replace("##", ""));
            }
        }
        return names;
    }

    private static String raw(String resource) throws IOException {
        try (InputStream in = ClKernelsTest.class.getResourceAsStream(ProgramCache.RESOURCE_DIR + resource)) {
            assertThat(in).as(resource).isNotNull();
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static Set<String> resourcesOnTheClassPath() throws IOException {
        java.net.URL dir = ClKernelsTest.class.getResource(ProgramCache.RESOURCE_DIR);
        assertThat(dir).isNotNull();
        try (var files = java.nio.file.Files.list(java.nio.file.Path.of(java.net.URI.create(dir.toString())))) {
            return files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".cl")).collect(Collectors.toCollection(TreeSet::new));
        }
    }
}
