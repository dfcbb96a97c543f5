package dev.corvus.opencl;

import dev.corvus.opencl.cl.ClContext;
import dev.corvus.opencl.cl.ClKernel;
import dev.corvus.opencl.cl.ClProgram;
import dev.corvus.tensor.DType;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Kernel sources and built programs for one context. Sources are class-path resources under
 * {@code dev/corvus/opencl/kernels/}; a line {@code #include "common.cl"} is replaced by that
 * resource's text (once per program). Programs are built once per (source text, options) and
 * kept until {@link #close()}; kernels are cached per (program, name) and shared, so a caller
 * holds the kernel's monitor while it sets arguments and enqueues:
 *
 * <pre>{@code
 * ClKernel k = programs.kernel(ClKernels.SCALE_F32, OpenClBackend.ELEMENTWISE);
 * synchronized (k) {
 *     k.arg(0, x).arg(1, xOffset).arg(2, 2f).arg(3, out).arg(4, outOffset);
 *     queue.run(k, new long[] {n}, null);
 * }
 * }</pre>
 *
 * Thread-safe. A build that fails is not cached (the ClException carries the build log).
 *
 * <p>Internal: public only because {@link OpenClBackend#programs()} exposes it to this module's
 * tests; not supported API, may change in any release.
 */
public final class ProgramCache implements AutoCloseable {
    /** Class-path folder of the kernel sources. */
    public static final String RESOURCE_DIR = "/dev/corvus/opencl/kernels/";
    private static final Pattern INCLUDE = Pattern.compile("^\\s*#include\\s+\"([^\"]+)\"\\s*$", Pattern.MULTILINE);
    private static final Map<String, String> SOURCES = new ConcurrentHashMap<>();

    private record Key(String source, String options) {}

    private record KernelKey(ClProgram program, String name) {}

    private final ClContext context;
    private final Map<Key, ClProgram> programs = new ConcurrentHashMap<>();
    private final Map<KernelKey, ClKernel> kernels = new ConcurrentHashMap<>();
    private volatile boolean closed;

    public ProgramCache(ClContext context) {
        this.context = context;
    }

    /** The text of a kernel resource, includes expanded (cached per JVM). */
    public static String source(String resource) {
        return SOURCES.computeIfAbsent(resource, r -> expand(r, new HashSet<>()));
    }

    private static String expand(String resource, Set<String> seen) {
        if (!seen.add(resource)) return "";
        String text;
        try (InputStream in = ProgramCache.class.getResourceAsStream(RESOURCE_DIR + resource)) {
            if (in == null) throw new IllegalArgumentException("no OpenCL kernel source " + RESOURCE_DIR + resource + " on the class path");
            text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("reading kernel source " + resource, e);
        }
        Matcher m = INCLUDE.matcher(text);
        StringBuilder out = new StringBuilder();
        while (m.find()) m.appendReplacement(out, Matcher.quoteReplacement(expand(m.group(1), seen)));
        m.appendTail(out);
        return out.toString();
    }

    /** The program built from resource {@code resource} with {@code options} (e.g. "-DTILE=16"). */
    public ClProgram program(String resource, String options) {
        return programFromSource(source(resource), options);
    }

    /** Defines every program gets: Q8_0's block layout, read from DType so the kernels never spell it. */
    static final String DTYPE_DEFINES = "-DQ8_BLOCK=" + DType.Q8_0.blockSize() + " -DQ8_BYTES=" + DType.Q8_0.blockBytes();

    /** The program built from literal source text with {@code options} (after {@link #DTYPE_DEFINES}). */
    public ClProgram programFromSource(String source, String options) {
        if (closed) throw new IllegalStateException("program cache for " + context.device() + " is closed");
        String all = options == null || options.isBlank() ? DTYPE_DEFINES : DTYPE_DEFINES + " " + options;
        return programs.computeIfAbsent(new Key(source, all), k -> context.build(k.source(), k.options()));
    }

    /**
     * The shared {@code kernel} of program ({@link ClKernels#resource}, options); lock it while
     * arming and enqueuing. Only names from the {@link ClKernels} table, so none is misspelt.
     */
    ClKernel kernel(ClKernels kernel, String options) {
        ClProgram p = program(kernel.resource, options);
        return kernels.computeIfAbsent(new KernelKey(p, kernel.kernelName()), k -> k.program().kernel(k.name()));
    }

    public ClContext context() {
        return context;
    }

    /** Programs built so far. */
    public int size() {
        return programs.size();
    }

    /** Releases every kernel, then every program. */
    @Override
    public synchronized void close() {
        closed = true;
        kernels.values().forEach(ClKernel::close);
        kernels.clear();
        programs.values().forEach(ClProgram::close);
        programs.clear();
    }
}
