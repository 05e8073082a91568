package io.github.pathosam.client;

import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;

/**
 * Turns a decoded image region into the interleaved RGB8 bytes a {@link TileSource} returns.
 *
 * <p>An image server may hand back a region one pixel larger or smaller than the tile plan asks for
 * (it rounds the downsampled size its own way); the tile must still have exactly the planned size,
 * or the server rejects it and the tile-pixel to level-0 mapping would drift. So a region of
 * another size is rescaled (bilinear), which moves no pixel by more than half a pixel.
 */
public final class RgbImages {

    private RgbImages() {
    }

    /**
     * @param image     the region's pixels (any type ImageIO / AWT can convert to RGB; alpha dropped)
     * @param outWidth  columns wanted
     * @param outHeight rows wanted
     * @return {@code outWidth * outHeight * 3} bytes, row-major, R,G,B
     * @throws IllegalArgumentException when a size is not positive
     */
    public static byte[] toRgb(BufferedImage image, int outWidth, int outHeight) {
        if (outWidth < 1 || outHeight < 1)
            throw new IllegalArgumentException("output size must be positive: " + outWidth + "x" + outHeight);
        BufferedImage source = image;
        if (image.getWidth() != outWidth || image.getHeight() != outHeight) {
            source = new BufferedImage(outWidth, outHeight, BufferedImage.TYPE_INT_RGB);
            Graphics2D g = source.createGraphics();
            try {
                g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
                g.drawImage(image, 0, 0, outWidth, outHeight, null);
            } finally {
                g.dispose();
            }
        }
        int[] argb = source.getRGB(0, 0, outWidth, outHeight, null, 0, outWidth);
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
