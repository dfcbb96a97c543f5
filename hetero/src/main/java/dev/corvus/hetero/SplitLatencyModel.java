package dev.corvus.hetero;

/**
 * Predicted times of one linear layer split by output rows, after papers.md §4.2: the CPU
 * computes rows [0, k) from the weight in host memory, the device rows [k, n) from weight rows
 * streamed over the bus. With α = k / n and, for the whole layer,
 * <ul>
 *   <li>c: CPU GEMM time (the roofline of weight bytes over the CPU's GEMV bandwidth and flops
 *       over its GEMM throughput, for this dtype and thread count),</li>
 *   <li>g: device GEMM time (the same roofline with the device's numbers),</li>
 *   <li>io: host-to-device time of the weight through pinned memory,</li>
 *   <li>x: moving the input X [m, in] to the side that does not hold the activations,</li>
 *   <li>y: moving the output rows back, for the whole [m, out],</li>
 * </ul>
 * the two branches take
 * <pre>
 *   activations on the device (the paper):  T_c(α) = x + α·(c + y)       T_g(α) = (1−α)·(io + g)
 *   activations on the host (Corvus now):   T_c(α) = α·c                 T_g(α) = x + (1−α)·(io + g + y)
 * </pre>
 * plus a fixed per-call cost on each side (a fork/join on the CPU; kernel launches and transfer
 * latencies on the device), which only a branch that has rows pays: T_c(0) = 0 and T_g(1) = 0.
 * The layer takes L(α) = max(T_c, T_g); {@link SplitSolver} minimises it. A device that runs on
 * the host's own cores (PoCL) does not overlap the CPU but competes with it: then
 * L(α) = T_c + T_g, which is linear between the ends, so the best split is all or nothing.
 *
 * <p>Corvus runs the rest of the model (norms, attention) on the host, so the runtime split in
 * {@link SplitLinear} is the host-activation case; the paper's case is kept so plans for a
 * device-resident runner use the same code.
 */
public final class SplitLatencyModel {
    /** Where X comes from and Y goes to. */
    public enum Activations { HOST, DEVICE }

    private final DeviceProfile profile;
    private final Activations activations;

    public SplitLatencyModel(DeviceProfile profile, Activations activations) {
        this.profile = profile;
        this.activations = activations;
    }

    /** The model Corvus's runtime matches: activations on the host. */
    public SplitLatencyModel(DeviceProfile profile) {
        this(profile, Activations.HOST);
    }

    public DeviceProfile profile() {
        return profile;
    }

    /**
     * The terms of §4.2 in seconds, the fixed per-call costs, and where the activations live
     * (which decides the branch that pays x and y). Without a device g, io and deviceFixed are
     * infinite.
     */
    public record Terms(double c, double g, double io, double x, double y, double cpuFixed, double deviceFixed, Activations activations,
            boolean overlap) {
        /** Terms for a device that runs beside the CPU (the two branches overlap). */
        public Terms(double c, double g, double io, double x, double y, double cpuFixed, double deviceFixed, Activations activations) {
            this(c, g, io, x, y, cpuFixed, deviceFixed, activations, true);
        }

        /** CPU branch time for a fraction α of the rows. */
        public double cpu(double alpha) {
            if (alpha <= 0) return 0;
            return cpuFixed + (activations == Activations.DEVICE ? x + alpha * (c + y) : alpha * c);
        }

        /** Device branch time for the other 1 − α. */
        public double device(double alpha) {
            if (alpha >= 1) return 0;
            return deviceFixed + (activations == Activations.DEVICE ? (1 - alpha) * (io + g) : x + (1 - alpha) * (io + g + y));
        }

        /** L(α) = max(T_c, T_g) when both branches run at once, else T_c + T_g. */
        public double latency(double alpha) {
            return overlap ? Math.max(cpu(alpha), device(alpha)) : cpu(alpha) + device(alpha);
        }

        /** The balance point T_c = T_g, clamped to [0, 1] (endpoints not compared; see {@link SplitSolver}). */
        public double balance() {
            double fixedCpu, slopeCpu, fixedDev, slopeDev;
            if (activations == Activations.DEVICE) {
                fixedCpu = cpuFixed + x;
                slopeCpu = c + y;
                fixedDev = deviceFixed;
                slopeDev = io + g;
            } else {
                fixedCpu = cpuFixed;
                slopeCpu = c;
                fixedDev = deviceFixed + x;
                slopeDev = io + g + y;
            }
            // fixedCpu + α·slopeCpu = fixedDev + (1 − α)·slopeDev; with no fixed costs and
            // activations on the device this is the paper's α* = (io + g − x) / (c + y + io + g).
            double denominator = slopeCpu + slopeDev;
            // no device (infinite terms), or nothing costs anything: keep the device out of it
            if (!Double.isFinite(fixedDev + slopeDev) || denominator <= 0) return 1;
            return Math.clamp((fixedDev + slopeDev - fixedCpu) / denominator, 0.0, 1.0);
        }

        /** Time with the weight resident on the device: no weight transfer, the whole layer there. */
        public double resident() {
            return deviceFixed + (activations == Activations.DEVICE ? g : x + g + y);
        }
    }

    /** The terms for {@code m} input rows (1 at decode, the prompt length at prefill). */
    public Terms terms(LayerShape layer, int m) {
        if (m < 1) throw new IllegalArgumentException("cost model: m (rows of X) must be >= 1, got " + m);
        double c = profile.cpuSeconds(layer, m);
        double cpuFixed = profile.cpuCallSeconds();
        if (!profile.hasDevice()) {
            return new Terms(c, Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY, 0, 0, cpuFixed, Double.POSITIVE_INFINITY, activations, true);
        }
        double g = profile.deviceSeconds(layer, m);
        double io = layer.bytes() / profile.h2dBytesPerSecond();
        double xBytes = 4.0 * m * layer.inFeatures(), yBytes = 4.0 * m * layer.outFeatures();
        // X travels host → device when activations are on the host; Y the other way (and vice versa).
        double x = activations == Activations.HOST ? xBytes / profile.h2dBytesPerSecond() : xBytes / profile.d2hBytesPerSecond();
        double y = activations == Activations.HOST ? yBytes / profile.d2hBytesPerSecond() : yBytes / profile.h2dBytesPerSecond();
        // a call: one input upload, a weight chunk write and GEMM launch, one read back
        double deviceFixed = profile.deviceLaunchSeconds() + 2 * profile.transferLatencySeconds();
        return new Terms(c, g, io, x, y, cpuFixed, deviceFixed, activations, !profile.deviceSharesCpu());
    }
}
