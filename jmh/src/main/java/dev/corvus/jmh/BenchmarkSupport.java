package dev.corvus.jmh;

import dev.corvus.tensor.Backend;
import dev.corvus.tensor.Backends;

/** Shared JMH settings and helpers. */
final class BenchmarkSupport {
    private BenchmarkSupport() {}

    /** Flags every forked benchmark JVM needs. */
    static final String ADD_VECTOR = "--add-modules=jdk.incubator.vector";
    static final String NATIVE = "--enable-native-access=ALL-UNNAMED";

    static Backend backend(String name) {
        return Backends.named(name);
    }
}
