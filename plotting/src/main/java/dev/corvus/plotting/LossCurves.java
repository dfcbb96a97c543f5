package dev.corvus.plotting;

import dev.corvus.train.AtomicFile;
import dev.corvus.train.Trainer;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import javax.imageio.ImageIO;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * A training run's loss curves, train and validation loss against the step, drawn by XChart and
 * written as a PNG. Works headless: unless the JVM was told otherwise, {@code java.awt.headless}
 * is set to true before the first chart is drawn, so no display is needed. Points whose loss is
 * not finite (steps without a validation loss) are left out. The file is written atomically.
 */
public final class LossCurves {
    static {
        if (System.getProperty("java.awt.headless") == null) System.setProperty("java.awt.headless", "true");
    }

    private LossCurves() {}

    /**
     * One point of a curve.
     *
     * @param step the optimiser step
     * @param loss the loss there
     */
    public record Point(long step, double loss) {}

    /**
     * The curves to draw.
     *
     * @param title      the chart's title
     * @param train      training loss per step
     * @param validation validation loss at the steps it was measured (may be empty)
     */
    public record Curves(String title, List<Point> train, List<Point> validation) {
        public Curves {
            Objects.requireNonNull(title, "title");
            train = finite(train);
            validation = finite(validation);
        }

        private static List<Point> finite(List<Point> points) {
            return points.stream().filter(p -> Double.isFinite(p.loss())).toList();
        }
    }

    /** The train and validation curves of a {@link Trainer}'s records. */
    public static Curves of(String title, List<Trainer.StepRecord> history) {
        List<Point> train = new ArrayList<>(), validation = new ArrayList<>();
        for (Trainer.StepRecord r : history) {
            train.add(new Point(r.step(), r.trainLoss()));
            validation.add(new Point(r.step(), r.validationLoss()));
        }
        return new Curves(title, train, validation);
    }

    /** The chart as an image of {@code width} × {@code height} pixels. */
    public static BufferedImage draw(Curves curves, int width, int height) {
        if (width < 100 || height < 100 || width > 10_000 || height > 10_000) {
            throw new IllegalArgumentException("loss curve image " + width + "x" + height + ": each side must be 100 to 10000 pixels");
        }
        if (curves.train().isEmpty() && curves.validation().isEmpty()) {
            throw new IllegalArgumentException("loss curves \"" + curves.title() + "\": no finite loss to draw");
        }
        XYChart chart = new XYChartBuilder().width(width).height(height).title(curves.title()).xAxisTitle("step").yAxisTitle("loss (nats per token)").build();
        addSeries(chart, "train", curves.train(), false);
        addSeries(chart, "validation", curves.validation(), true);
        return BitmapEncoder.getBufferedImage(chart);
    }

    /** Draws the curves and writes them to {@code file} as a PNG, atomically. */
    public static void writePng(Path file, Curves curves, int width, int height) throws IOException {
        BufferedImage image = draw(curves, width, height);
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        if (!ImageIO.write(image, "png", png)) throw new IOException("writing " + file + ": this JVM has no PNG writer");
        AtomicFile.write(file, out -> {
            ByteBuffer bytes = ByteBuffer.wrap(png.toByteArray());
            while (bytes.hasRemaining()) out.write(bytes);
        });
    }

    private static void addSeries(XYChart chart, String name, List<Point> points, boolean markers) {
        if (points.isEmpty()) return;
        double[] x = new double[points.size()], y = new double[points.size()];
        for (int i = 0; i < x.length; i++) {
            x[i] = points.get(i).step();
            y[i] = points.get(i).loss();
        }
        XYSeries s = chart.addSeries(name, x, y);
        s.setMarker(markers ? SeriesMarkers.CIRCLE : SeriesMarkers.NONE);
    }
}
