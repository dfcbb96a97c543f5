package dev.corvus.dit;

import dev.corvus.tensor.MemoryScope;
import dev.corvus.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Seeded synthetic videos for the DiT's training task: coloured squares on black, each with a
 * constant speed, bouncing off the frame's edges. The same seed gives the same clip.
 *
 * <p>Motion: a square's top-left corner moves by its velocity every frame; a step that would leave
 * the frame is reflected at the edge (the overshoot folded back) and that velocity component
 * flips sign, so the speed never changes and the square always stays wholly inside the frame.
 * Squares are drawn in order, later ones over earlier ones, at their corner rounded to a pixel.
 */
public final class MovingSquares {
    private MovingSquares() {}

    /** Frames per clip the task allows. */
    public static final int MIN_FRAMES = 1, MAX_FRAMES = 256;

    /**
     * One square's path: its side in pixels, colour (RGB in [0, 1]) and, per frame, the corner
     * (x, y) and the velocity (vx, vy) that moves it to the next frame.
     */
    public record Square(int side, float red, float green, float blue, double[] x, double[] y, double[] vx, double[] vy) {
        /** The corner's pixel column in frame f. */
        public int column(int f) {
            return (int) Math.round(x[f]);
        }

        /** The corner's pixel row in frame f. */
        public int row(int f) {
            return (int) Math.round(y[f]);
        }
    }

    /**
     * A clip: {@code rgb} is [frames, size, size, 3] row-major in [0, 1], with the squares that made it.
     */
    public record Clip(int frames, int size, float[] rgb, List<Square> squares) {
        public Clip {
            squares = List.copyOf(squares);
        }

        /** The clip as a tensor [frames, size, size, 3] in [0, 1], allocated in {@code scope}. */
        public Tensor pixels(MemoryScope scope) {
            return Tensor.of(scope, rgb, frames, size, size, 3);
        }

        /** The clip mapped to [-1, 1] (2·v - 1), the range the DiT's data end of the flow uses, [frames, size, size, 3]. */
        public Tensor latent(MemoryScope scope) {
            float[] v = new float[rgb.length];
            for (int i = 0; i < v.length; i++) v[i] = 2 * rgb[i] - 1;
            return Tensor.of(scope, v, frames, size, size, 3);
        }
    }

    /**
     * A clip of {@code squares} squares with sides in [size/8, size/4] (at least 1), speeds per
     * axis in [0.5, 2.5] pixels per frame with random signs, and saturated random colours.
     */
    public static Clip generate(long seed, int frames, int size, int squares) {
        if (frames < MIN_FRAMES || frames > MAX_FRAMES) {
            throw new IllegalArgumentException("MovingSquares: frames = " + frames + ", expected " + MIN_FRAMES + ".." + MAX_FRAMES);
        }
        if (size < 4) throw new IllegalArgumentException("MovingSquares: size = " + size + ", expected at least 4 pixels");
        if (squares < 0) throw new IllegalArgumentException("MovingSquares: squares = " + squares + " must not be negative");
        SplittableRandom rnd = new SplittableRandom(seed);
        List<Square> list = new ArrayList<>();
        float[] rgb = new float[frames * size * size * 3];
        for (int i = 0; i < squares; i++) {
            int side = Math.max(1, size / 8 + rnd.nextInt(size / 8 + 1));
            double room = size - side;
            float[] colour = saturated(rnd);
            double[] x = new double[frames], y = new double[frames], vx = new double[frames], vy = new double[frames];
            x[0] = rnd.nextDouble() * room;
            y[0] = rnd.nextDouble() * room;
            vx[0] = speed(rnd);
            vy[0] = speed(rnd);
            for (int f = 1; f < frames; f++) {
                double[] nx = bounce(x[f - 1], vx[f - 1], room), ny = bounce(y[f - 1], vy[f - 1], room);
                x[f] = nx[0];
                vx[f] = nx[1];
                y[f] = ny[0];
                vy[f] = ny[1];
            }
            Square sq = new Square(side, colour[0], colour[1], colour[2], x, y, vx, vy);
            list.add(sq);
            for (int f = 0; f < frames; f++) draw(rgb, size, f, sq);
        }
        return new Clip(frames, size, rgb, list);
    }

    /** One step of a coordinate at {@code pos} with velocity {@code v} in [0, room]: {new position, new velocity}. */
    static double[] bounce(double pos, double v, double room) {
        double next = pos + v;
        if (room == 0) return new double[] {0, v};
        if (next < 0) return new double[] {-next, -v};
        if (next > room) return new double[] {2 * room - next, -v};
        return new double[] {next, v};
    }

    private static double speed(SplittableRandom rnd) {
        double s = 0.5 + 2 * rnd.nextDouble();
        return rnd.nextBoolean() ? s : -s;
    }

    /** A colour with one channel at 1, one at 0 and one random, so squares stand out from black and from each other. */
    private static float[] saturated(SplittableRandom rnd) {
        float[] c = new float[3];
        int full = rnd.nextInt(3), off = (full + 1 + rnd.nextInt(2)) % 3;
        for (int i = 0; i < 3; i++) c[i] = i == full ? 1f : i == off ? 0f : (float) rnd.nextDouble();
        return c;
    }

    private static void draw(float[] rgb, int size, int f, Square sq) {
        int x0 = sq.column(f), y0 = sq.row(f);
        for (int r = y0; r < y0 + sq.side(); r++) {
            for (int c = x0; c < x0 + sq.side(); c++) {
                int at = ((f * size + r) * size + c) * 3;
                rgb[at] = sq.red();
                rgb[at + 1] = sq.green();
                rgb[at + 2] = sq.blue();
            }
        }
    }
}
