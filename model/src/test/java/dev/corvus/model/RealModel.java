package dev.corvus.model;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import org.junit.jupiter.api.Assumptions;

/**
 * The real TinyStories-15M files for tests, fetched once per JVM through {@link ModelStore}. A
 * failed fetch fails the test with the reason; only {@code CORVUS_OFFLINE=1} (or
 * {@code -Dcorvus.offline=true}) turns a missing model into a skipped test.
 */
public final class RealModel {
    private static ModelStore.Stories15M files;
    private static String failure;

    private RealModel() {}

    public static boolean offline() {
        String env = System.getenv("CORVUS_OFFLINE");
        return "1".equals(env) || "true".equalsIgnoreCase(env) || Boolean.getBoolean("corvus.offline");
    }

    public static synchronized ModelStore.Stories15M files() {
        if (files != null) return files;
        ModelStore store = ModelStore.defaults();
        try {
            if (offline()) {
                Assumptions.assumeTrue(store.hasStories15M(), "CORVUS_OFFLINE=1 and the TinyStories-15M model is not in " + store.cacheDir()
                        + " (run scripts/fetch-model.sh once to test against it)");
                return files = store.stories15MPaths();
            }
            if (failure == null) return files = store.stories15M();
        } catch (IOException e) {
            failure = e.getMessage();
        }
        return fail("the TinyStories-15M model could not be fetched, so the real-model tests cannot run (set CORVUS_OFFLINE=1 to skip them"
                + " on a machine without network): " + failure);
    }
}
