package dev.corvus.dit;

import dev.corvus.tensor.Tensor;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import javax.imageio.ImageIO;

/**
 * Writes videos as PNG strips: the frames of each clip side by side, one row of the image per
 * clip, every pixel blown up to a {@code zoom} × {@code zoom} block so 32 × 32 frames stay
 * visible, frames and clips parted by grey lines {@code zoom} pixels wide (a black background
 * would otherwise run from one frame into the next). Needs no display (BufferedImage and ImageIO only). The file is written to a temporary
 * file beside the target and moved into place, so a reader never sees half an image.
 */
public final class VideoStrip {
    private VideoStrip() {}

    /**
     * Writes {@code videos} [N, T, H, W, 3] (or one clip [T, H, W, 3]) with values in [lo, hi]
     * mapped to 0..255 (values outside are clamped) as a PNG at {@code target}.
     */
    public static void write(Path target, Tensor videos, float lo, float hi, int zoom) {
        int[] s = videos.shape();
        if (s.length == 4) s = new int[] {1, s[0], s[1], s[2], s[3]};
        if (s.length != 5 || s[4] != 3) {
            throw new IllegalArgumentException("VideoStrip: expected videos [N, T, H, W, 3] or one clip [T, H, W, 3], got "
                    + Arrays.toString(videos.shape()));
        }
        if (!(hi > lo)) throw new IllegalArgumentException("VideoStrip: range [" + lo + ", " + hi + "] is empty");
        if (zoom < 1) throw new IllegalArgumentException("VideoStrip: zoom = " + zoom + " must be at least 1");
        int n = s[0], t = s[1], h = s[2], w = s[3];
        long width = (long) t * (w + 1) * zoom - zoom, height = (long) n * (h + 1) * zoom - zoom;
        if (width * height > 1L << 28) {
            throw new IllegalArgumentException("VideoStrip: a " + width + " x " + height + " image is too large; lower the zoom or the clip count");
        }
        float[] v = videos.toFloatArray();
        BufferedImage img = new BufferedImage((int) width, (int) height, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) img.setRGB(x, y, SEPARATOR);
        }
        for (int clip = 0; clip < n; clip++) {
            for (int f = 0; f < t; f++) {
                for (int r = 0; r < h; r++) {
                    for (int c = 0; c < w; c++) {
                        int at = (((clip * t + f) * h + r) * w + c) * 3;
                        int rgb = level(v[at], lo, hi) << 16 | level(v[at + 1], lo, hi) << 8 | level(v[at + 2], lo, hi);
                        for (int dy = 0; dy < zoom; dy++) {
                            for (int dx = 0; dx < zoom; dx++) img.setRGB((f * (w + 1) + c) * zoom + dx, (clip * (h + 1) + r) * zoom + dy, rgb);
                        }
                    }
                }
            }
        }
        writeAtomically(target, img);
    }

    /** The colour of the lines between frames and clips. */
    static final int SEPARATOR = 0x808080;

    private static int level(float x, float lo, float hi) {
        if (Float.isNaN(x)) throw new IllegalArgumentException("VideoStrip: the video holds NaN");
        return (int) Math.round(255 * Math.clamp((x - lo) / (double) (hi - lo), 0, 1));
    }

    private static void writeAtomically(Path target, BufferedImage img) {
        Path dir = target.toAbsolutePath().getParent();
        Path tmp = null;
        try {
            Files.createDirectories(dir);
            tmp = Files.createTempFile(dir, target.getFileName().toString(), ".tmp");
            if (!ImageIO.write(img, "png", tmp.toFile())) throw new IOException("no PNG writer in this JDK");
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            tmp = null;
        } catch (IOException e) {
            throw new UncheckedIOException("VideoStrip: cannot write " + target + ": " + e.getMessage(), e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // the write already failed; that error is the one to report
                }
            }
        }
    }
}
