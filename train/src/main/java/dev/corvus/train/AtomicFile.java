package dev.corvus.train;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes a file so that it appears complete or not at all: into a hidden temporary file beside
 * it, forced to disk, renamed over the target, and the folder forced too, so that after a crash
 * the name holds either the old content or the new, never a part. Whatever fails, the target is
 * left as it was and the temporary file is removed.
 */
public final class AtomicFile {
    private AtomicFile() {}

    /** What writes the content; it may write through the channel and need not force it. */
    @FunctionalInterface
    public interface Body {
        void write(FileChannel out) throws IOException;
    }

    /** Writes {@code target} atomically with {@code body}; errors name {@code target}. */
    public static void write(Path target, Body body) throws IOException {
        Path name = target.getFileName();
        if (name == null) throw new IOException("cannot write " + target + ": not a file name");
        if (Files.isDirectory(target)) throw new IOException("cannot write " + target + ": it is a directory");
        Path dir = target.toAbsolutePath().getParent();
        if (!Files.isDirectory(dir)) throw new IOException("cannot write " + target + ": the folder " + dir + " does not exist");
        Path tmp = temporary(dir, name.toString());
        boolean moved = false;
        try {
            try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                body.write(out);
                out.force(true);
            } catch (IOException e) {
                throw new IOException("writing " + target + " failed (" + e.getMessage() + "); " + target + " was left as it was", e);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            moved = true;
            forceDirectory(dir);
        } finally {
            if (!moved) Files.deleteIfExists(tmp);
        }
    }

    private static Path temporary(Path dir, String name) throws IOException {
        for (int attempt = 0; ; attempt++) {
            Path tmp = dir.resolve("." + name + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
            try {
                Files.newByteChannel(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE).close();
                return tmp;
            } catch (FileAlreadyExistsException e) {
                if (attempt >= 10) throw e;
            }
        }
    }

    /** Makes the rename durable; file systems that cannot open a folder for reading (not Linux) are left to their own ordering. */
    private static void forceDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // the file itself is complete and in place; only the rename's durability is the file system's
        }
    }
}
