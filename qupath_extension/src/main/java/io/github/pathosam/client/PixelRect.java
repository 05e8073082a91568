package io.github.pathosam.client;

/**
 * An axis-aligned rectangle of level-0 image pixels: x right, y down, origin at the image's
 * top-left corner (QuPath's convention). Half-open: it covers {@code x <= px < x + width} and
 * {@code y <= py < y + height}.
 *
 * @param x      left edge (level-0 pixels)
 * @param y      top edge (level-0 pixels)
 * @param width  width (level-0 pixels), not negative
 * @param height height (level-0 pixels), not negative
 */
public record PixelRect(int x, int y, int width, int height) {

    /**
     * Validates the size.
     *
     * @throws IllegalArgumentException when width or height is negative
     */
    public PixelRect {
        if (width < 0 || height < 0)
            throw new IllegalArgumentException("negative rectangle size " + width + "x" + height);
    }

    /**
     * Creates a rectangle from its corners.
     *
     * @param x0 left edge (inclusive)
     * @param y0 top edge (inclusive)
     * @param x1 right edge (exclusive), at least {@code x0}
     * @param y1 bottom edge (exclusive), at least {@code y0}
     * @return the rectangle
     */
    public static PixelRect fromCorners(int x0, int y0, int x1, int y1) {
        return new PixelRect(x0, y0, x1 - x0, y1 - y0);
    }

    /** @return the exclusive right edge {@code x + width} */
    public int maxX() {
        return x + width;
    }

    /** @return the exclusive bottom edge {@code y + height} */
    public int maxY() {
        return y + height;
    }

    /** @return {@code width * height} */
    public long area() {
        return (long) width * height;
    }

    /** @return whether the rectangle covers no pixel */
    public boolean isEmpty() {
        return width == 0 || height == 0;
    }

    /**
     * Half-open containment of a point, the rule the server applies to nucleus centroids.
     *
     * @param px x in level-0 pixels
     * @param py y in level-0 pixels
     * @return whether {@code x <= px < x + width} and {@code y <= py < y + height}
     */
    public boolean contains(double px, double py) {
        return px >= x && px < maxX() && py >= y && py < maxY();
    }

    /**
     * @param other another rectangle
     * @return the overlap of both rectangles, empty (at a clamped corner) when they do not overlap
     */
    public PixelRect intersection(PixelRect other) {
        int x0 = Math.max(x, other.x);
        int y0 = Math.max(y, other.y);
        int x1 = Math.max(x0, Math.min(maxX(), other.maxX()));
        int y1 = Math.max(y0, Math.min(maxY(), other.maxY()));
        return fromCorners(x0, y0, x1, y1);
    }
}
