package io.github.pathosam.client;

import org.junit.jupiter.api.Test;

import java.awt.image.BufferedImage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class RgbImagesTest {

    @Test
    void copiesPixelsRowMajorRgb() {
        BufferedImage img = new BufferedImage(3, 2, BufferedImage.TYPE_INT_ARGB);
        img.setRGB(0, 0, 0xFF102030);
        img.setRGB(2, 1, 0x80A0B0C0); // alpha is dropped
        byte[] rgb = RgbImages.toRgb(img, 3, 2);
        assertEquals(18, rgb.length);
        assertArrayEquals(new byte[]{0x10, 0x20, 0x30}, new byte[]{rgb[0], rgb[1], rgb[2]});
        assertArrayEquals(new byte[]{(byte) 0xA0, (byte) 0xB0, (byte) 0xC0}, new byte[]{rgb[15], rgb[16], rgb[17]});
    }

    @Test
    void rescalesARegionOfAnotherSizeToThePlannedSize() {
        BufferedImage img = new BufferedImage(11, 9, BufferedImage.TYPE_3BYTE_BGR);
        for (int y = 0; y < 9; y++)
            for (int x = 0; x < 11; x++)
                img.setRGB(x, y, 0x336699);
        byte[] rgb = RgbImages.toRgb(img, 10, 10);
        assertEquals(300, rgb.length);
        for (int i = 0; i < rgb.length; i += 3)
            assertArrayEquals(new byte[]{0x33, 0x66, (byte) 0x99}, new byte[]{rgb[i], rgb[i + 1], rgb[i + 2]});
        assertThrows(IllegalArgumentException.class, () -> RgbImages.toRgb(img, 0, 5));
    }
}
