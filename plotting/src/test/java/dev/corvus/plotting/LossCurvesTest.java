package dev.corvus.plotting;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.corvus.train.Trainer;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LossCurvesTest {
    @TempDir Path dir;

    static List<Trainer.StepRecord> history() {
        List<Trainer.StepRecord> h = new ArrayList<>();
        for (long s = 1; s <= 120; s++) {
            double train = 4 * Math.exp(-s / 30.0) + 1 + 0.1 * Math.sin(s);
            double validation = s % 20 == 0 ? 4 * Math.exp(-s / 30.0) + 1.2 : Double.NaN;
            h.add(new Trainer.StepRecord(s, train, 512, 1.0, 1e-3f, validation));
        }
        return h;
    }

    @Test
    void writesAPngThatReadsBackAtItsSizeAndIsNotBlank() throws IOException {
        Path file = dir.resolve("loss.png");
        LossCurves.Curves curves = LossCurves.of("toy run", history());
        assertThat(curves.train()).hasSize(120);
        assertThat(curves.validation()).hasSize(6); // the steps without a validation loss are left out
        LossCurves.writePng(file, curves, 800, 500);

        BufferedImage image = ImageIO.read(file.toFile());
        assertThat(image).isNotNull();
        assertThat(image.getWidth()).isEqualTo(800);
        assertThat(image.getHeight()).isEqualTo(500);
        Set<Integer> colours = new HashSet<>();
        for (int y = 0; y < image.getHeight(); y += 3) for (int x = 0; x < image.getWidth(); x += 3) colours.add(image.getRGB(x, y));
        assertThat(colours.size()).as("distinct colours in the image").isGreaterThan(10);
        try (var files = Files.list(dir)) {
            assertThat(files).containsExactly(file);
        }
    }

    @Test
    void nothingToDrawOrAnAbsurdSizeIsRefused() {
        LossCurves.Curves empty = new LossCurves.Curves("empty", List.of(new LossCurves.Point(1, Double.NaN)), List.of());
        assertThatThrownBy(() -> LossCurves.writePng(dir.resolve("x.png"), empty, 800, 500)).hasMessageContaining("no finite loss");
        assertThatThrownBy(() -> LossCurves.draw(LossCurves.of("t", history()), 5, 500)).hasMessageContaining("5x500");
        assertThat(dir.resolve("x.png")).doesNotExist();
    }
}
