package io.github.pathosam.client;

import java.io.IOException;

/**
 * Where tile pixels come from: an image that can be read one rectangle at a time, so that a
 * region is never held in memory whole. The QuPath adapter implements it over an
 * {@code ImageServer}; {@link BufferedImageTileSource} implements it over an in-memory image.
 *
 * <p>Implementations must be safe to call from one thread at a time; the client never reads two
 * tiles of one stream concurrently.
 */
public interface TileSource {

    /** @return the level-0 image width in pixels */
    int width();

    /** @return the level-0 image height in pixels */
    int height();

    /**
     * Reads the RGB pixels of a level-0 rectangle at a downsample.
     *
     * @param region     level-0 rectangle inside the image
     * @param downsample level-0 pixels per output pixel (1 = full resolution)
     * @param outWidth   columns of the result, normally {@link TilePlanner#tilePixels(int, double)}
     *                   of the region's width
     * @param outHeight  rows of the result
     * @return {@code outWidth * outHeight * 3} bytes: row-major, interleaved R,G,B; the caller owns
     *         the array (the client sends it without copying, so do not reuse it)
     * @throws IOException when the pixels cannot be read
     */
    byte[] readRgb(PixelRect region, double downsample, int outWidth, int outHeight) throws IOException;
}
