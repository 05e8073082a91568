package io.github.pathosam.client;

import io.github.pathosam.grpc.v1.Image;
import io.github.pathosam.grpc.v1.PixelEncoding;
import org.junit.jupiter.api.Test;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** BufferedImageTileSource and PixelEncoder over a real image with a known pattern. */
class PixelsTest {

    /** Pixel (x, y) = (x mod 256, y mod 256, (x + 2y) mod 256): every axis mistake shows. */
    static BufferedImage pattern(int w, int h) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                img.setRGB(x, y, ((x & 255) << 16) | ((y & 255) << 8) | ((x + 2 * y) & 255));
        return img;
    }

    @Test
    void fullResolutionReadIsExactAndRowMajor() throws IOException {
        TileSource source = new BufferedImageTileSource(pattern(300, 200));
        byte[] rgb = source.readRgb(new PixelRect(17, 40, 30, 20), 1.0, 30, 20);
        assertEquals(30 * 20 * 3, rgb.length);
        int col = 5, row = 7; // tile pixel -> level-0 (22, 47)
        int i = (row * 30 + col) * 3;
        assertEquals(22, rgb[i] & 255);
        assertEquals(47, rgb[i + 1] & 255);
        assertEquals((22 + 94) & 255, rgb[i + 2] & 255);
    }

    @Test
    void downsampledReadHasTheRequestedSize() throws IOException {
        TileSource source = new BufferedImageTileSource(pattern(300, 200));
        byte[] rgb = source.readRgb(new PixelRect(100, 50, 120, 80), 2.0, 60, 40);
        assertEquals(60 * 40 * 3, rgb.length);
        // Tile pixel (10, 5) covers level-0 (120..122, 60..62): R ~ 120-121, G ~ 60-61.
        int i = (5 * 60 + 10) * 3;
        assertEquals(121, rgb[i] & 255, 1.5);
        assertEquals(61, rgb[i + 1] & 255, 1.5);
    }

    @Test
    void readsOutsideTheImageAreRejected() {
        TileSource source = new BufferedImageTileSource(pattern(30, 20));
        assertThrows(IllegalArgumentException.class, () -> source.readRgb(new PixelRect(25, 0, 10, 10), 1, 10, 10));
        assertThrows(IllegalArgumentException.class, () -> source.readRgb(new PixelRect(-1, 0, 10, 10), 1, 10, 10));
    }

    @Test
    void rawAndPngCarryTheSamePixels() throws IOException {
        TileSource source = new BufferedImageTileSource(pattern(64, 48));
        byte[] rgb = source.readRgb(new PixelRect(0, 0, 64, 48), 1.0, 64, 48);
        Image raw = PixelEncoder.encode(rgb, 64, 48, TileEncoding.RAW_RGB8);
        assertEquals(PixelEncoding.RAW_RGB8, raw.getEncoding());
        assertArrayEquals(rgb, raw.getData().toByteArray());
        Image png = PixelEncoder.encode(rgb, 64, 48, TileEncoding.PNG);
        assertEquals(PixelEncoding.PNG, png.getEncoding());
        BufferedImage decoded = ImageIO.read(new ByteArrayInputStream(png.getData().toByteArray()));
        assertEquals(64, decoded.getWidth());
        assertEquals(48, decoded.getHeight());
        assertArrayEquals(rgb, new BufferedImageTileSource(decoded).readRgb(new PixelRect(0, 0, 64, 48), 1, 64, 48));
        assertThrows(IllegalArgumentException.class, () -> PixelEncoder.encode(rgb, 64, 47, TileEncoding.RAW_RGB8));
    }
}
