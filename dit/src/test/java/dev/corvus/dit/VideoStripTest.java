package dev.corvus.dit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** PNG strips: frames side by side, pixels zoomed, values mapped from [lo, hi], written atomically. */
class VideoStripTest {
    @TempDir Path dir;

    @Test
    void framesLieSideBySideAtTheirColours() throws Exception {
        MovingSquares.Clip clip = MovingSquares.generate(3, 5, 8, 2);
        Path png = dir.resolve("sub/strip.png");
        try (MemoryScope scope = MemoryScope.open("strip")) {
            VideoStrip.write(png, clip.latent(scope), -1, 1, 3);
        }
        BufferedImage img = ImageIO.read(png.toFile());
        assertThat(img.getWidth()).as("5 frames of 8 pixels and 4 separators, zoomed 3x").isEqualTo((5 * 8 + 4) * 3);
        assertThat(img.getHeight()).isEqualTo(8 * 3);
        for (int y = 0; y < 8 * 3; y++) assertThat(img.getRGB(8 * 3 + 1, y) & 0xFFFFFF).isEqualTo(VideoStrip.SEPARATOR);
        float[] rgb = clip.rgb();
        for (int f = 0; f < 5; f++) {
            for (int r = 0; r < 8; r++) {
                for (int c = 0; c < 8; c++) {
                    int at = ((f * 8 + r) * 8 + c) * 3;
                    int expected = Math.round(255 * rgb[at]) << 16 | Math.round(255 * rgb[at + 1]) << 8 | Math.round(255 * rgb[at + 2]);
                    for (int z = 0; z < 9; z++) {
                        assertThat(img.getRGB((f * 9 + c) * 3 + z % 3, r * 3 + z / 3) & 0xFFFFFF).as("frame " + f + " (" + r + ", " + c + ")")
                                .isEqualTo(expected);
                    }
                }
            }
        }
        try (Stream<Path> files = Files.list(png.getParent())) {
            assertThat(files).as("no temporary file left behind").containsExactly(png);
        }
    }

    @Test
    void clipsStackAsRowsAndOutOfRangeValuesClamp() throws Exception {
        Path png = dir.resolve("two.png");
        try (MemoryScope scope = MemoryScope.open("strip")) {
            Tensor v = Tensor.full(scope, 5f, 2, 3, 4, 4, 3);
            VideoStrip.write(png, v, 0, 1, 1);
        }
        BufferedImage img = ImageIO.read(png.toFile());
        assertThat(img.getWidth()).isEqualTo(3 * 4 + 2);
        assertThat(img.getHeight()).as("two clips of 4 rows and one separator").isEqualTo(2 * 4 + 1);
        assertThat(img.getRGB(13, 8) & 0xFFFFFF).isEqualTo(0xFFFFFF);
        assertThat(img.getRGB(0, 4) & 0xFFFFFF).isEqualTo(VideoStrip.SEPARATOR);
    }

    @Test
    void badInputIsRefusedAndLeavesNoFile() {
        Path png = dir.resolve("bad.png");
        try (MemoryScope scope = MemoryScope.open("strip")) {
            assertThatThrownBy(() -> VideoStrip.write(png, Tensor.zeros(scope, dev.corvus.tensor.DType.F32, 2, 4, 4, 4), 0, 1, 1))
                    .hasMessageContaining("expected videos [N, T, H, W, 3] or one clip [T, H, W, 3], got [2, 4, 4, 4]");
            assertThatThrownBy(() -> VideoStrip.write(png, Tensor.full(scope, Float.NaN, 2, 4, 4, 3), 0, 1, 1)).hasMessageContaining("NaN");
            assertThatThrownBy(() -> VideoStrip.write(png, Tensor.zeros(scope, dev.corvus.tensor.DType.F32, 2, 4, 4, 3), 1, 1, 1))
                    .hasMessageContaining("range [1.0, 1.0] is empty");
        }
        assertThat(png).doesNotExist();
    }
}
