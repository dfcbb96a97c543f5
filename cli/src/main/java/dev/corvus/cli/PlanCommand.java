package dev.corvus.cli;

import dev.corvus.hetero.DeviceProfile;
import dev.corvus.hetero.DeviceSide;
import dev.corvus.hetero.PlacementPlan;
import dev.corvus.model.Checkpoint;
import dev.corvus.model.LlamaWeights;
import dev.corvus.tensor.MemoryScope;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code corvus plan}: the HeteGen plan for a model on this machine: the measured profile, then
 * per linear layer resident or split, α and k at decode, k per prefill bucket and the predicted
 * time. Without OpenCL it says why and prints the CPU-only plan.
 */
@Command(name = "plan", sortOptions = false,
        description = {"Print the HeteGen plan: which weight matrices stay resident on the device, how the rest split between CPU and device.",
            "The device profile is measured on first use and cached (~/.cache/corvus/hetero-profile-*.properties)."})
final class PlanCommand implements Callable<Integer> {
    @Option(names = "--model", paramLabel = "PATH", description = "llama2.c checkpoint (.bin) or GGUF file (default: TinyStories 15M).")
    Path model;

    @Option(names = "--dtype", paramLabel = "f32|q8_0", description = "Plan for the weight matrices converted to this type (default: as stored).")
    String dtype;

    @Option(names = "--device", paramLabel = "opencl|opencl:P:D", description = "The device to plan for (default: opencl, the first GPU, else the first device).")
    String device;

    @Option(names = "--device-memory", paramLabel = "BYTES", description = "Device memory for resident weights, e.g. 64M (default ${DEFAULT-VALUE}: everything split).",
            defaultValue = "0")
    String deviceMemory;

    @Option(names = "--split-ratio", paramLabel = "ALPHA", description = "Force the CPU's share of every split layer's rows (0 to 1) instead of the solver's α*.")
    Double splitRatio;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        long budget = HeteroSetup.parseBytes(deviceMemory);
        Path path = model != null ? model : Cli.defaultModel();
        PrintWriter out = spec.commandLine().getOut();
        try (Checkpoint ckpt = Cli.load(path, null); MemoryScope converted = MemoryScope.detached("converted weights")) {
            LlamaWeights weights = dtype == null ? ckpt.weights() : Cli.convertMatrices(ckpt.weights(), Cli.parseDType(dtype), converted);
            Optional<String> why = DeviceSide.unavailableReason();
            DeviceProfile profile;
            if (why.isPresent()) {
                out.println("No OpenCL device (" + why.get() + "): the plan keeps every layer on the CPU.");
                profile = DeviceProfile.measure(null);
            } else {
                try (DeviceSide side = HeteroSetup.openDevice(device)) {
                    profile = HeteroSetup.profile(side);
                }
            }
            PlacementPlan plan = HeteroSetup.plan(profile, weights, budget, splitRatio);
            out.println(path.getFileName() + ", " + Cli.weightTypes(weights) + " weights");
            out.println(profile.summary());
            out.println();
            out.println(plan.table());
            out.flush();
        }
        return 0;
    }
}
