package io.github.pathosam.client;

import java.util.Collection;
import java.util.Objects;

/**
 * Chooses the context window of an interactive prompt so that later prompts nearby reuse it.
 *
 * <p>The server caches a window's image embedding under the digest of its pixels, and the client
 * then sends only the digest ({@link PathoSamClient#prompt}). That pays off only if the next click
 * asks for the <em>same</em> window, to the pixel. So a window is kept for as long as the new
 * prompts lie inside it with a margin of context on every side (except where the window already
 * touches the image border); only then is a new window centred on the prompts.
 */
public final class PromptWindows {

    /** Window edge in working (tile) pixels: SAM's encoder sees 1024 px, PathoSAM's tiles are 512. */
    public static final int DEFAULT_WINDOW_PIXELS = 512;

    private final int windowPixels;
    private final double downsample;
    private final int imageWidth;
    private final int imageHeight;
    private final int maxTilePixels;

    /**
     * @param windowPixels  window edge in working pixels (at least 64)
     * @param downsample    level-0 pixels per working pixel
     * @param imageWidth    level-0 image width
     * @param imageHeight   level-0 image height
     * @param maxTilePixels the server's largest tile edge in pixels (GetInfo limits), 0 for no limit
     */
    public PromptWindows(int windowPixels, double downsample, int imageWidth, int imageHeight, int maxTilePixels) {
        if (windowPixels < 64)
            throw new IllegalArgumentException("the prompt window must be at least 64 pixels, not " + windowPixels);
        if (!Double.isFinite(downsample) || downsample <= 0)
            throw new IllegalArgumentException("downsample must be positive, not " + downsample);
        if (imageWidth < 1 || imageHeight < 1)
            throw new IllegalArgumentException("image size must be positive: " + imageWidth + "x" + imageHeight);
        this.windowPixels = windowPixels;
        this.downsample = downsample;
        this.imageWidth = imageWidth;
        this.imageHeight = imageHeight;
        this.maxTilePixels = maxTilePixels;
    }

    /**
     * @param points point prompts (level-0)
     * @param box    box prompt (level-0), or null
     * @return the smallest level-0 rectangle that holds every prompt (a point covers its pixel)
     * @throws IllegalArgumentException when there is no prompt at all
     */
    public static PixelRect bounds(Collection<PromptPoint> points, PixelRect box) {
        int x0 = Integer.MAX_VALUE, y0 = Integer.MAX_VALUE, x1 = Integer.MIN_VALUE, y1 = Integer.MIN_VALUE;
        for (PromptPoint p : points) {
            int px = (int) Math.floor(p.x()), py = (int) Math.floor(p.y());
            x0 = Math.min(x0, px);
            y0 = Math.min(y0, py);
            x1 = Math.max(x1, px + 1);
            y1 = Math.max(y1, py + 1);
        }
        if (box != null) {
            x0 = Math.min(x0, box.x());
            y0 = Math.min(y0, box.y());
            x1 = Math.max(x1, box.maxX());
            y1 = Math.max(y1, box.maxY());
        }
        if (x0 > x1)
            throw new IllegalArgumentException("no prompt: give at least one point or a box");
        return PixelRect.fromCorners(x0, y0, x1, y1);
    }

    /**
     * @param current the window used so far, or null
     * @param prompts level-0 bounds of every prompt of the object ({@link #bounds})
     * @return {@code current} when it still holds the prompts with context around them; otherwise a
     *         new window of the default size (or larger, for a large box) centred on them and shifted
     *         to lie inside the image
     * @throws IllegalArgumentException when the prompts lie outside the image or need a window larger
     *         than the server accepts
     */
    public PixelRect window(PixelRect current, PixelRect prompts) {
        Objects.requireNonNull(prompts, "prompts");
        PixelRect image = new PixelRect(0, 0, imageWidth, imageHeight);
        PixelRect inside = prompts.intersection(image);
        if (inside.isEmpty())
            throw new IllegalArgumentException("the prompt " + prompts + " lies outside the image");
        if (current != null && holds(current, inside))
            return current;
        int margin = margin();
        int size = TilePlanner.roundHalfUp(windowPixels * downsample);
        int w = Math.min(imageWidth, Math.max(size, inside.width() + 2 * margin));
        int h = Math.min(imageHeight, Math.max(size, inside.height() + 2 * margin));
        int x = clamp(inside.x() + inside.width() / 2 - w / 2, imageWidth - w);
        int y = clamp(inside.y() + inside.height() / 2 - h / 2, imageHeight - h);
        PixelRect window = new PixelRect(x, y, w, h);
        int longest = Math.max(TilePlanner.tilePixels(w, downsample), TilePlanner.tilePixels(h, downsample));
        if (maxTilePixels > 0 && longest > maxTilePixels)
            throw new IllegalArgumentException("the prompt needs a " + longest + " px window but the server takes at most "
                    + maxTilePixels + " px: draw a smaller box");
        return window;
    }

    /** Whether the window holds the prompts with a margin on each side that is not the image border. */
    boolean holds(PixelRect window, PixelRect prompts) {
        int margin = margin();
        int x0 = window.x() == 0 ? 0 : window.x() + margin;
        int y0 = window.y() == 0 ? 0 : window.y() + margin;
        int x1 = window.maxX() == imageWidth ? imageWidth : window.maxX() - margin;
        int y1 = window.maxY() == imageHeight ? imageHeight : window.maxY() - margin;
        return prompts.x() >= x0 && prompts.y() >= y0 && prompts.maxX() <= x1 && prompts.maxY() <= y1;
    }

    /** Context kept around prompts: an eighth of the window (64 of 512 working pixels), level-0. */
    private int margin() {
        return TilePlanner.roundHalfUp(windowPixels / 8.0 * downsample);
    }

    private static int clamp(int v, int max) {
        return Math.max(0, Math.min(v, Math.max(0, max)));
    }
}
