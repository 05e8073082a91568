package io.github.pathosam.client;

import java.awt.image.BufferedImage;
import java.util.Objects;

/**
 * A {@link TileSource} over an in-memory {@link BufferedImage} (any type; alpha is dropped).
 * For tests, scripts and small images; slides are read through QuPath's ImageServer instead.
 */
public final class BufferedImageTileSource implements TileSource {

    private final BufferedImage image;

    /**
     * @param image the level-0 image; it is read, never modified
     */
    public BufferedImageTileSource(BufferedImage image) {
        this.image = Objects.requireNonNull(image, "image");
    }

    @Override
    public int width() {
        return image.getWidth();
    }

    @Override
    public int height() {
        return image.getHeight();
    }

    /**
     * Copies pixels directly when the output has the region's size; otherwise scales the region
     * with bilinear interpolation (both by {@link RgbImages}, the one pixel conversion of the client).
     */
    @Override
    public byte[] readRgb(PixelRect region, double downsample, int outWidth, int outHeight) {
        PixelRect bounds = new PixelRect(0, 0, width(), height());
        if (region.isEmpty() || !bounds.intersection(region).equals(region))
            throw new IllegalArgumentException("region " + region + " is not inside the image " + bounds);
        // A view onto the image's raster, not a copy: only the output array is allocated.
        BufferedImage view = image.getSubimage(region.x(), region.y(), region.width(), region.height());
        return RgbImages.toRgb(view, outWidth, outHeight);
    }
}
