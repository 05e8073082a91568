package io.github.pathosam.client;

import java.awt.Graphics2D;
import java.awt.RenderingHints;
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
     * with bilinear interpolation.
     */
    @Override
    public byte[] readRgb(PixelRect region, double downsample, int outWidth, int outHeight) {
        PixelRect bounds = new PixelRect(0, 0, width(), height());
        if (region.isEmpty() || !bounds.intersection(region).equals(region))
            throw new IllegalArgumentException("region " + region + " is not inside the image " + bounds);
        if (outWidth < 1 || outHeight < 1)
            throw new IllegalArgumentException("output size must be positive: " + outWidth + "x" + outHeight);
        int[] argb;
        if (outWidth == region.width() && outHeight == region.height()) {
            argb = image.getRGB(region.x(), region.y(), outWidth, outHeight, null, 0, outWidth);
        } else {
            BufferedImage scaled = new BufferedImage(outWidth, outHeight, BufferedImage.TYPE_INT_RGB);
            Graphics2D g = scaled.createGraphics();
            try {
                g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
                g.drawImage(image, 0, 0, outWidth, outHeight,
                        region.x(), region.y(), region.maxX(), region.maxY(), null);
            } finally {
                g.dispose();
            }
            argb = scaled.getRGB(0, 0, outWidth, outHeight, null, 0, outWidth);
        }
        return argbToRgb(argb);
    }

    /**
     * @param argb packed 0xAARRGGBB pixels
     * @return interleaved R,G,B bytes
     */
    static byte[] argbToRgb(int[] argb) {
        byte[] rgb = new byte[argb.length * 3];
        for (int i = 0, j = 0; i < argb.length; i++) {
            int p = argb[i];
            rgb[j++] = (byte) (p >> 16);
            rgb[j++] = (byte) (p >> 8);
            rgb[j++] = (byte) p;
        }
        return rgb;
    }
}
