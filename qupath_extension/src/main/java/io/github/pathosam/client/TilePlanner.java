package io.github.pathosam.client;

import java.util.ArrayList;
import java.util.List;

/**
 * Cuts a level-0 region into overlapping tiles at a downsample.
 *
 * <p>The formulas are part of the contract with the Python planner, which applies the same ones,
 * so both clients send identical tiles for the same region (the reference tests compare them):
 * <ul>
 *   <li>Cores: a grid over the region with level-0 boundaries {@code x + R(i*T*d)} (likewise y),
 *       the last one clipped to the region's edge. Column {@code i} exists while {@code R(i*T*d) < width},
 *       so no core is empty and the cores partition the region exactly (half-open rectangles).</li>
 *   <li>Tile rectangle: the core grown by {@code R(H*d)} on every side, clipped to the image
 *       {@code [0, imageWidth) x [0, imageHeight)}.</li>
 *   <li>Tile image size: {@code max(1, R(rect.width / d))} x {@code max(1, R(rect.height / d))}.</li>
 * </ul>
 * where {@code T} is the inner tile size and {@code H} the halo, both in tile (downsampled) pixels,
 * and {@code R} is {@link #roundHalfUp(double) round half up}, {@code floor(v + 0.5)} — Java's
 * {@link Math#round(double)}. (Python's built-in {@code round} rounds halves to even; the Python
 * planner must use {@code math.floor(v + 0.5)} to agree.)
 *
 * <p>Tiles are numbered row by row, top to bottom, left to right within a row.
 */
public final class TilePlanner {

    /** PathoSAM's default inner tile edge in working pixels. */
    public static final int DEFAULT_TILE_SIZE = 384;
    /** PathoSAM's default halo in working pixels on each side of the inner tile. */
    public static final int DEFAULT_HALO = 64;

    private TilePlanner() {
    }

    /**
     * Plans the tiles of a region.
     *
     * @param region      level-0 region to cover; it is first clipped to the image
     * @param downsample  level-0 pixels per tile pixel, positive
     * @param tileSize    inner tile edge {@code T} in tile pixels, positive
     * @param halo        halo {@code H} in tile pixels on each side, not negative
     * @param imageWidth  level-0 image width
     * @param imageHeight level-0 image height
     * @return the tiles, row by row; empty when the region does not overlap the image
     * @throws IllegalArgumentException for a non-positive downsample, tile size or image size, or a negative halo
     */
    public static List<PlannedTile> plan(PixelRect region, double downsample, int tileSize, int halo,
                                         int imageWidth, int imageHeight) {
        if (!(downsample > 0) || Double.isInfinite(downsample))
            throw new IllegalArgumentException("downsample must be positive, not " + downsample);
        if (tileSize < 1)
            throw new IllegalArgumentException("tile size must be positive, not " + tileSize);
        if (halo < 0)
            throw new IllegalArgumentException("halo must not be negative, not " + halo);
        if (imageWidth < 1 || imageHeight < 1)
            throw new IllegalArgumentException("image size must be positive: " + imageWidth + "x" + imageHeight);
        PixelRect image = new PixelRect(0, 0, imageWidth, imageHeight);
        PixelRect clipped = region.intersection(image);
        if (clipped.isEmpty())
            return List.of();

        int[] xs = boundaries(clipped.x(), clipped.width(), tileSize * downsample);
        int[] ys = boundaries(clipped.y(), clipped.height(), tileSize * downsample);
        int grow = roundHalfUp(halo * downsample);
        List<PlannedTile> tiles = new ArrayList<>((xs.length - 1) * (ys.length - 1));
        for (int row = 0; row + 1 < ys.length; row++) {
            for (int col = 0; col + 1 < xs.length; col++) {
                PixelRect core = PixelRect.fromCorners(xs[col], ys[row], xs[col + 1], ys[row + 1]);
                PixelRect rect = PixelRect.fromCorners(
                        core.x() - grow, core.y() - grow, core.maxX() + grow, core.maxY() + grow)
                        .intersection(image);
                tiles.add(new PlannedTile(tiles.size(), rect, core,
                        tilePixels(rect.width(), downsample), tilePixels(rect.height(), downsample)));
            }
        }
        return List.copyOf(tiles);
    }

    /**
     * Size in tile pixels of a level-0 extent: {@code max(1, roundHalfUp(extent / downsample))}.
     *
     * @param extent     level-0 pixels
     * @param downsample level-0 pixels per tile pixel
     * @return tile pixels, at least 1
     */
    public static int tilePixels(int extent, double downsample) {
        return Math.max(1, roundHalfUp(extent / downsample));
    }

    /**
     * The one rounding the planners share: {@code floor(v + 0.5)}.
     *
     * @param v a finite value within int range
     * @return v rounded half up
     */
    public static int roundHalfUp(double v) {
        return Math.toIntExact((long) Math.floor(v + 0.5));
    }

    /** Grid lines {@code start + R(i * step)} while inside the extent, plus the extent's end. */
    private static int[] boundaries(int start, int extent, double step) {
        List<Integer> offsets = new ArrayList<>();
        for (int i = 0; ; i++) {
            int offset = roundHalfUp(i * step);
            if (offset >= extent)
                break;
            // A step under one pixel (tiny tiles at a downsample < 1) can round twice to one line.
            if (offsets.isEmpty() || offset > offsets.get(offsets.size() - 1))
                offsets.add(offset);
        }
        int[] result = new int[offsets.size() + 1];
        for (int i = 0; i < offsets.size(); i++)
            result[i] = start + offsets.get(i);
        result[offsets.size()] = start + extent;
        return result;
    }
}
