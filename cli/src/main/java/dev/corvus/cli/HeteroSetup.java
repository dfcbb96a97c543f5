package dev.corvus.cli;

import dev.corvus.hetero.SplitLatencyModel;
import dev.corvus.hetero.DeviceProfile;
import dev.corvus.hetero.DeviceSide;
import dev.corvus.hetero.HeteroLinear;
import dev.corvus.hetero.PlacementPlan;
import dev.corvus.hetero.ResidentPlanner;
import dev.corvus.model.LlamaWeights;
import dev.corvus.model.ModelStore;
import java.io.IOException;
import java.util.Locale;

/** What {@code generate --hetero} and {@code plan} share: byte sizes, the device, its profile and the plan. */
final class HeteroSetup {
    private HeteroSetup() {}

    /** {@link #parseBytes(String, String)} for --device-memory. */
    static long parseBytes(String text) {
        return parseBytes("--device-memory", text);
    }

    /** "0", "4096", "512K", "64M", "1.5G", "2GiB": binary multiples; errors name {@code option}. */
    static long parseBytes(String option, String text) {
        String s = text.trim().toUpperCase(Locale.ROOT).replace("IB", "").replace("B", "");
        long unit = 1;
        if (!s.isEmpty()) {
            switch (s.charAt(s.length() - 1)) {
                case 'K' -> unit = 1L << 10;
                case 'M' -> unit = 1L << 20;
                case 'G' -> unit = 1L << 30;
                case 'T' -> unit = 1L << 40;
                default -> { }
            }
        }
        if (unit > 1) s = s.substring(0, s.length() - 1);
        try {
            double v = Double.parseDouble(s);
            if (v < 0 || Double.isNaN(v) || Double.isInfinite(v) || v * unit >= 0x1p63) throw new NumberFormatException();
            return (long) Math.floor(v * unit);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(option + " " + text + ": expected bytes, optionally with K, M, G or T (e.g. 64M)");
        }
    }

    /** The device --device names (default "opencl"), or a clear error naming what is missing. */
    static DeviceSide openDevice(String spec) {
        DeviceSide.unavailableReason().ifPresent(why -> {
            throw new IllegalStateException("--hetero needs an OpenCL device: " + why);
        });
        return DeviceSide.open(spec == null ? "opencl" : spec);
    }

    /** The profile cached for this machine and device (measured on first use, a few seconds). */
    static DeviceProfile profile(DeviceSide device) throws IOException {
        return DeviceProfile.loadOrMeasure(device, ModelStore.defaultCacheDir());
    }

    /** The plan; {@code splitRatio} null lets the solver choose each α, else forces it (rounded to the tile). */
    static PlacementPlan plan(DeviceProfile profile, LlamaWeights weights, long budgetBytes, Double splitRatio) {
        if (splitRatio != null && !(splitRatio >= 0 && splitRatio <= 1)) {
            throw new IllegalArgumentException("--split-ratio " + splitRatio + ": expected the CPU's share of the rows, from 0 to 1");
        }
        return new ResidentPlanner(new SplitLatencyModel(profile)).plan(HeteroLinear.shapes(weights), budgetBytes, splitRatio == null ? Double.NaN : splitRatio);
    }
}
