package dev.corvus.jmh;

import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Parallel;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.DoubleAdder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The memory-bandwidth yardstick for GEMV: sum every float of a buffer with the Vector API on the
 * shared pool, the least work that still reads every byte. GB/s = bytes / time.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {BenchmarkSupport.ADD_VECTOR, BenchmarkSupport.NATIVE, "-Xmx4g"})
public class BandwidthBenchmark {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    /** 64 MiB: the F32 4096x4096 weight, far beyond the caches. */
    @Param({"67108864"})
    public long bytes;

    private MemoryScope scope;
    private MemorySegment data;

    @Setup(Level.Trial)
    public void setUp() {
        scope = MemoryScope.detached("bandwidth");
        data = scope.allocate(bytes);
        for (long i = 0; i < bytes / 4; i++) data.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i, i % 7);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        scope.close();
    }

    @Benchmark
    public double streamSum() {
        int chunks = 256;
        long chunkBytes = bytes / chunks;
        DoubleAdder total = new DoubleAdder();
        Parallel.forRange(chunks, 1, (start, end) -> {
            FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
            long step = F.vectorByteSize();
            for (long off = start * chunkBytes, stop = end * chunkBytes; off < stop; off += 4 * step) {
                a0 = a0.add(FloatVector.fromMemorySegment(F, data, off, ByteOrder.LITTLE_ENDIAN));
                a1 = a1.add(FloatVector.fromMemorySegment(F, data, off + step, ByteOrder.LITTLE_ENDIAN));
                a2 = a2.add(FloatVector.fromMemorySegment(F, data, off + 2 * step, ByteOrder.LITTLE_ENDIAN));
                a3 = a3.add(FloatVector.fromMemorySegment(F, data, off + 3 * step, ByteOrder.LITTLE_ENDIAN));
            }
            total.add(a0.add(a1).add(a2.add(a3)).reduceLanes(VectorOperators.ADD));
        });
        return total.sum();
    }
}
