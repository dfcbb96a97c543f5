package dev.corvus.hetero;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.Backends;
import dev.corvus.tensor.CommandQueue;
import dev.corvus.tensor.DType;
import dev.corvus.tensor.DeviceEvent;
import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Ops;
import dev.corvus.tensor.Parallel;
import dev.corvus.tensor.Tensor;
import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.EnumMap;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;

/**
 * What the cost model needs to know about this machine: CPU and device GEMV bandwidth (weight
 * bytes per second at m = 1, where decode is memory-bound) and GEMM throughput (flop/s) per
 * weight dtype, fixed per-call costs, and bus bandwidth each way through pinned buffers.
 *
 * <p>{@link #measure} times short microbenchmarks (a few hundred milliseconds each, most of it
 * JIT warm-up and the device's first kernel builds); {@link #loadOrMeasure} keeps the result in
 * {@code <cache>/hetero-profile-<hash>.properties}, the hash naming the CPU backend, thread count
 * and device, so a different machine or device measures afresh. Tests build profiles directly.
 *
 * @param cpuThreads          threads the CPU kernels used
 * @param cpu                 CPU throughput per weight dtype (F32 and Q8_0 measured; others fall back to F32's)
 * @param cpuCallSeconds      fixed cost of one CPU call (fork/join of a tiny GEMV)
 * @param deviceName          null when there is no device
 * @param deviceSharesCpu     the device runs on the host's own cores (PoCL): its work does not
 *                            overlap the CPU's, it competes with it
 * @param device              device throughput per weight dtype
 * @param deviceLaunchSeconds fixed cost of one device GEMV launch, waited for
 * @param h2dBytesPerSecond   pinned host to device
 * @param d2hBytesPerSecond   device to pinned host
 * @param transferLatencySeconds fixed cost of one small transfer
 */
public record DeviceProfile(String cpuName, int cpuThreads, Map<DType, Throughput> cpu, double cpuCallSeconds,
        String deviceName, boolean deviceSharesCpu, Map<DType, Throughput> device, double deviceLaunchSeconds,
        double h2dBytesPerSecond, double d2hBytesPerSecond, double transferLatencySeconds) {

    /** GEMV weight bandwidth (bytes/s at m = 1) and GEMM throughput (flop/s at large m). */
    public record Throughput(double gemvBytesPerSecond, double gemmFlopsPerSecond) {
        public Throughput {
            if (!(gemvBytesPerSecond > 0) || !(gemmFlopsPerSecond > 0)) {
                throw new IllegalArgumentException("throughput must be positive, got " + gemvBytesPerSecond + " B/s and " + gemmFlopsPerSecond + " flop/s");
            }
        }
    }

    public DeviceProfile {
        cpu = Map.copyOf(cpu);
        device = deviceName == null ? Map.of() : Map.copyOf(device);
        if (!cpu.containsKey(DType.F32)) throw new IllegalArgumentException("a profile needs the CPU's F32 throughput");
        if (deviceName != null && (!device.containsKey(DType.F32) || !(h2dBytesPerSecond > 0) || !(d2hBytesPerSecond > 0))) {
            throw new IllegalArgumentException("a profile with a device needs its F32 throughput and positive bus bandwidths");
        }
    }

    /** A profile without a device: everything stays on the CPU. */
    public static DeviceProfile cpuOnly(String cpuName, int threads, Map<DType, Throughput> cpu, double cpuCallSeconds) {
        return new DeviceProfile(cpuName, threads, cpu, cpuCallSeconds, null, false, Map.of(), 0, 0, 0, 0);
    }

    public boolean hasDevice() {
        return deviceName != null;
    }

    /** CPU time of the whole layer for m input rows: the slower of streaming its bytes and doing its flops. */
    public double cpuSeconds(LayerShape layer, int m) {
        return roofline(lookup(cpu, layer.dtype()), layer, m);
    }

    /** Device time of the whole layer for m input rows, weight already on the device. */
    public double deviceSeconds(LayerShape layer, int m) {
        if (!hasDevice()) return Double.POSITIVE_INFINITY;
        return roofline(lookup(device, layer.dtype()), layer, m);
    }

    private static double roofline(Throughput t, LayerShape layer, int m) {
        return Math.max(layer.bytes() / t.gemvBytesPerSecond(), layer.flops(m) / t.gemmFlopsPerSecond());
    }

    /** F16 and BF16 fall back to F32's numbers when not measured (same kernels, half the bytes). */
    private static Throughput lookup(Map<DType, Throughput> table, DType dtype) {
        Throughput t = table.get(dtype);
        return t != null ? t : table.get(DType.F32);
    }

    // ---------------------------------------------------------------- measuring

    /**
     * Matrix size of the GEMV and GEMM probes. The GEMV weight (16 MiB in F32) is big enough to
     * leave the caches and to make the per-call fork-join cost small beside the streaming, as in a
     * real layer; a 4 MiB probe read 24 GB/s where 4096 x 4096 layers stream at 40.
     */
    private static final int PROBE_ROWS = 4096, PROBE_IN = 1024, PROBE_GEMM_M = 64, PROBE_GEMM_N = 256;
    private static final long PROBE_TRANSFER_BYTES = 8L << 20;
    /** F16 and BF16 are left out: their kernels need long JIT warm-ups to time fairly; they use F32's numbers. */
    private static final DType[] PROBE_TYPES = {DType.F32, DType.Q8_0};

    /** Measures the CPU (the current thread count) and, when given, the device. */
    public static DeviceProfile measure(DeviceSide side) {
        try (MemoryScope scope = MemoryScope.open("hetero profile")) {
            Map<DType, Throughput> cpu = new EnumMap<>(DType.class);
            for (DType t : PROBE_TYPES) {
                warmCpu(scope, t);
                Tensor w = weight(t, PROBE_ROWS), wg = weight(t, PROBE_GEMM_N);
                Tensor x1 = Tensor.randn(scope, 7, 1f, 1, PROBE_IN), xm = Tensor.randn(scope, 8, 1f, PROBE_GEMM_M, PROBE_IN);
                Tensor y1 = Tensor.zeros(scope, DType.F32, 1, PROBE_ROWS), ym = Tensor.zeros(scope, DType.F32, PROBE_GEMM_M, PROBE_GEMM_N);
                double gemv = best(() -> CpuRows.compute(x1, w, PROBE_ROWS, y1));
                double gemm = best(() -> CpuRows.compute(xm, wg, PROBE_GEMM_N, ym));
                cpu.put(t, new Throughput(w.dtype().byteSize(w.numel()) / gemv, 2.0 * PROBE_GEMM_M * PROBE_GEMM_N * PROBE_IN / gemm));
            }
            Tensor tiny = weight(DType.F32, 16), tx = Tensor.randn(scope, 9, 1f, 1, PROBE_IN), ty = Tensor.zeros(scope, DType.F32, 1, 16);
            double cpuCall = best(() -> CpuRows.compute(tx, tiny, 16, ty));
            String cpuName = Backends.cpu().name() + " backend, " + Runtime.getRuntime().availableProcessors() + " cores, " + System.getProperty("os.arch");
            if (side == null) return cpuOnly(cpuName, Parallel.parallelism(), cpu, cpuCall);
            return measureDevice(side, scope, cpuName, cpu, cpuCall);
        }
    }

    private static DeviceProfile measureDevice(DeviceSide side, MemoryScope scope, String cpuName, Map<DType, Throughput> cpu, double cpuCall) {
        Backend be = side.backend();
        Map<DType, Throughput> dev = new EnumMap<>(DType.class);
        for (DType t : new DType[] {DType.F32, DType.Q8_0}) {
            Tensor w = Ops.toDevice(weight(t, PROBE_ROWS), side.device()), wg = Ops.toDevice(weight(t, PROBE_GEMM_N), side.device());
            Tensor x1 = Tensor.randn(scope, 7, 1f, 1, PROBE_IN).to(side.device()), xm = Tensor.randn(scope, 8, 1f, PROBE_GEMM_M, PROBE_IN).to(side.device());
            double gemv = best(() -> {
                Ops.linear(x1, w, null);
                be.synchronize();
            });
            double gemm = best(() -> {
                Ops.linear(xm, wg, null);
                be.synchronize();
            });
            dev.put(t, new Throughput(w.dtype().byteSize(w.numel()) / gemv, 2.0 * PROBE_GEMM_M * PROBE_GEMM_N * PROBE_IN / gemm));
        }
        Tensor tiny = Ops.toDevice(weight(DType.F32, 16), side.device()), tx = Tensor.randn(scope, 9, 1f, 1, PROBE_IN).to(side.device());
        double launch = best(() -> {
            Ops.linear(tx, tiny, null);
            be.synchronize();
        });
        double h2d, d2h, latency;
        // the probe buffers live only as long as the probe: pinned memory is scarce
        try (MemoryScope probe = MemoryScope.detached("hetero transfer probe")) {
            int floats = (int) (PROBE_TRANSFER_BYTES / 4);
            Tensor host = be.allocatePinned(probe, DType.F32, floats), target = be.allocate(probe, DType.F32, floats);
            host.segment().fill((byte) 1);
            Tensor smallHost = host.narrow(0, 0, 64), smallTarget = target.narrow(0, 0, 64);
            h2d = PROBE_TRANSFER_BYTES / best(() -> awaitClose(be.transferAsync(host, target, CommandQueue.COPY)));
            d2h = PROBE_TRANSFER_BYTES / best(() -> awaitClose(be.transferAsync(target, host, CommandQueue.COMPUTE)));
            latency = best(() -> awaitClose(be.transferAsync(smallHost, smallTarget, CommandQueue.COPY)));
        }
        return new DeviceProfile(cpuName, Parallel.parallelism(), cpu, cpuCall, side.description(), be.sharesHostCores(), dev, launch, h2d, d2h,
                latency);
    }

    private static void awaitClose(DeviceEvent e) {
        try (e) {
            e.await();
        }
    }

    private static Tensor weight(DType t, int rows) {
        Tensor w = Tensor.randn(MemoryScope.require("profile"), rows, 0.1f, rows, PROBE_IN);
        return t == DType.F32 ? w : Ops.convert(w, t);
    }

    /** Timing bounds per probe: runs until the best time stops improving, within these. */
    private static final long PROBE_NANOS = 250_000_000L;
    private static final int MIN_RUNS = 5, MAX_RUNS = 2000, STABLE_RUNS = 8;

    /**
     * The fastest run in seconds, timing until the best has not improved by 2% for a few runs:
     * the Vector API kernels are very slow until C2 compiles them, so a fixed warm-up either
     * wastes time or measures the interpreter.
     */
    private static double best(Runnable r) {
        long start = System.nanoTime(), best = Long.MAX_VALUE;
        int sinceImproved = 0;
        for (int i = 0; i < MAX_RUNS; i++) {
            long t0 = System.nanoTime();
            r.run();
            long t = System.nanoTime() - t0;
            if (t < best * 0.98) {
                best = t;
                sinceImproved = 0;
            } else {
                sinceImproved++;
            }
            boolean stable = i >= MIN_RUNS && sinceImproved >= STABLE_RUNS;
            if (stable || System.nanoTime() - start > PROBE_NANOS) break;
        }
        return Math.max(best, 1) * 1e-9;
    }

    /** Least time spent warming each dtype's CPU kernels on the probe shapes themselves. */
    private static final long WARM_NANOS = 1_500_000_000L;

    /**
     * Runs the CPU probes themselves until C2 has compiled them: the Vector API kernels run 100x
     * slower before that, and a profile measured then sends every layer to the device. Warming
     * stops when a batch of calls is no faster than the batch before (after {@link #WARM_NANOS}),
     * or after four times that.
     */
    private static void warmCpu(MemoryScope scope, DType t) {
        Tensor w = weight(t, PROBE_ROWS), wg = weight(t, PROBE_GEMM_N);
        Tensor x1 = Tensor.randn(scope, 1, 1f, 1, PROBE_IN), xm = Tensor.randn(scope, 2, 1f, PROBE_GEMM_M, PROBE_IN);
        Tensor y1 = Tensor.zeros(scope, DType.F32, 1, PROBE_ROWS), ym = Tensor.zeros(scope, DType.F32, PROBE_GEMM_M, PROBE_GEMM_N);
        long start = System.nanoTime(), previous = Long.MAX_VALUE;
        while (System.nanoTime() - start < 4 * WARM_NANOS) {
            long t0 = System.nanoTime();
            for (int i = 0; i < 8; i++) {
                CpuRows.compute(x1, w, PROBE_ROWS, y1);
                CpuRows.compute(xm, wg, PROBE_GEMM_N, ym);
            }
            long batch = System.nanoTime() - t0;
            if (System.nanoTime() - start > WARM_NANOS && batch > previous * 0.97) break;
            previous = Math.min(previous, batch);
        }
    }

    // ---------------------------------------------------------------- caching

    /** {@code -Dcorvus.hetero.profile=FILE} names the profile file; else it lives in the cache directory under a name hashed from the machine. */
    public static final String PROPERTY = "corvus.hetero.profile";

    /** The cached profile for this machine and device, measured and saved on first use. */
    public static DeviceProfile loadOrMeasure(DeviceSide side, Path cacheDir) throws IOException {
        Path file = cacheFile(side, cacheDir);
        if (Files.isRegularFile(file)) {
            try {
                return load(file);
            } catch (IOException | RuntimeException e) {
                System.getLogger("dev.corvus.hetero").log(System.Logger.Level.WARNING, "ignoring unreadable profile " + file + ": " + e.getMessage());
            }
        }
        DeviceProfile p = measure(side);
        Files.createDirectories(file.toAbsolutePath().getParent());
        p.save(file);
        return p;
    }

    /** Where {@link #loadOrMeasure} keeps the profile for this machine and device. */
    public static Path cacheFile(DeviceSide side, Path cacheDir) {
        String forced = System.getProperty(PROPERTY);
        if (forced != null && !forced.isBlank()) return Path.of(forced);
        String key = String.join("|", Backends.cpu().name(), String.valueOf(Parallel.parallelism()),
                String.valueOf(Runtime.getRuntime().availableProcessors()), System.getProperty("os.arch"),
                side == null ? "no device" : side.description());
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
            return cacheDir.resolve("hetero-profile-" + HexFormat.of().formatHex(h, 0, 6) + ".properties");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Bumped when the file's fields change; a file of another version is measured again. */
    private static final String FORMAT = "2";

    public void save(Path file) throws IOException {
        Properties p = new Properties();
        p.setProperty("format", FORMAT);
        p.setProperty("cpu.name", cpuName);
        p.setProperty("cpu.threads", String.valueOf(cpuThreads));
        p.setProperty("cpu.callSeconds", String.valueOf(cpuCallSeconds));
        put(p, "cpu", cpu);
        if (hasDevice()) {
            p.setProperty("device.name", deviceName);
            p.setProperty("device.sharesCpu", String.valueOf(deviceSharesCpu));
            p.setProperty("device.launchSeconds", String.valueOf(deviceLaunchSeconds));
            p.setProperty("bus.h2dBytesPerSecond", String.valueOf(h2dBytesPerSecond));
            p.setProperty("bus.d2hBytesPerSecond", String.valueOf(d2hBytesPerSecond));
            p.setProperty("bus.latencySeconds", String.valueOf(transferLatencySeconds));
            put(p, "device", device);
        }
        try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            p.store(w, "corvus HeteGen device profile (delete to measure again)");
        }
    }

    public static DeviceProfile load(Path file) throws IOException {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            p.load(r);
        }
        if (!FORMAT.equals(p.getProperty("format"))) {
            throw new IllegalArgumentException("profile " + file + " has format " + p.getProperty("format") + ", expected " + FORMAT);
        }
        String device = p.getProperty("device.name");
        return new DeviceProfile(require(p, "cpu.name", file), Integer.parseInt(require(p, "cpu.threads", file)), get(p, "cpu"),
                Double.parseDouble(require(p, "cpu.callSeconds", file)), device, Boolean.parseBoolean(p.getProperty("device.sharesCpu")),
                device == null ? Map.of() : get(p, "device"),
                number(p, "device.launchSeconds"), number(p, "bus.h2dBytesPerSecond"), number(p, "bus.d2hBytesPerSecond"),
                number(p, "bus.latencySeconds"));
    }

    private static void put(Properties p, String prefix, Map<DType, Throughput> table) {
        table.forEach((t, v) -> {
            p.setProperty(prefix + "." + t + ".gemvBytesPerSecond", String.valueOf(v.gemvBytesPerSecond()));
            p.setProperty(prefix + "." + t + ".gemmFlopsPerSecond", String.valueOf(v.gemmFlopsPerSecond()));
        });
    }

    private static Map<DType, Throughput> get(Properties p, String prefix) {
        Map<DType, Throughput> table = new EnumMap<>(DType.class);
        for (DType t : DType.values()) {
            String gemv = p.getProperty(prefix + "." + t + ".gemvBytesPerSecond"), gemm = p.getProperty(prefix + "." + t + ".gemmFlopsPerSecond");
            if (gemv != null && gemm != null) table.put(t, new Throughput(Double.parseDouble(gemv), Double.parseDouble(gemm)));
        }
        return table;
    }

    private static String require(Properties p, String key, Path file) {
        String v = p.getProperty(key);
        if (v == null) throw new IllegalArgumentException("profile " + file + " has no " + key);
        return v;
    }

    private static double number(Properties p, String key) {
        String v = p.getProperty(key);
        return v == null ? 0 : Double.parseDouble(v);
    }

    /** A few lines for {@code corvus plan}. */
    public String summary() {
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "CPU    %s, %d threads, call %.1f us%n", cpuName, cpuThreads, cpuCallSeconds * 1e6));
        cpu.forEach((t, v) -> s.append(String.format(Locale.ROOT, "       %-5s GEMV %6.2f GB/s, GEMM %6.1f GFLOP/s%n", t, v.gemvBytesPerSecond() / 1e9, v.gemmFlopsPerSecond() / 1e9)));
        if (!hasDevice()) return s.append("Device none").toString();
        s.append(String.format(Locale.ROOT, "Device %s, launch %.1f us%s%n", deviceName, deviceLaunchSeconds * 1e6,
                deviceSharesCpu ? " (runs on the host's cores: the two halves compete, they do not overlap)" : ""));
        device.forEach((t, v) -> s.append(String.format(Locale.ROOT, "       %-5s GEMV %6.2f GB/s, GEMM %6.1f GFLOP/s%n", t, v.gemvBytesPerSecond() / 1e9, v.gemmFlopsPerSecond() / 1e9)));
        s.append(String.format(Locale.ROOT, "Bus    pinned H2D %.2f GB/s, D2H %.2f GB/s, latency %.1f us", h2dBytesPerSecond / 1e9, d2hBytesPerSecond / 1e9,
                transferLatencySeconds * 1e6));
        return s.toString();
    }
}
