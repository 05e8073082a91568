package io.github.pathosam.client;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import io.github.pathosam.grpc.v1.Image;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.ImageOutputStream;
import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/** Packs RGB8 pixels into the wire {@link Image} message, raw or as PNG. */
public final class PixelEncoder {

    /**
     * PNG deflate effort. ImageIO maps quality q to deflate level 9*(1-q) roughly; H&E tiles
     * compress little better at high levels, and the point of PNG is a slow link, not archival.
     */
    private static final float PNG_QUALITY = 0.75f;

    private PixelEncoder() {
    }

    /**
     * Encodes a tile.
     *
     * @param rgb      interleaved R,G,B bytes, row-major; with RAW_RGB8 the array is wrapped, not
     *                 copied, so it must not change afterwards
     * @param width    columns
     * @param height   rows
     * @param encoding wire encoding
     * @return the image message
     * @throws IllegalArgumentException when the array does not hold {@code width*height*3} bytes
     */
    public static Image encode(byte[] rgb, int width, int height, TileEncoding encoding) {
        if (rgb.length != (long) width * height * 3)
            throw new IllegalArgumentException("expected " + (long) width * height * 3
                    + " RGB bytes for " + width + "x" + height + ", got " + rgb.length);
        ByteString data = switch (encoding) {
            case RAW_RGB8 -> UnsafeByteOperations.unsafeWrap(rgb);
            case PNG -> ByteString.copyFrom(png(rgb, width, height));
        };
        return Image.newBuilder()
                .setWidth(width)
                .setHeight(height)
                .setEncoding(encoding.toProto())
                .setData(data)
                .build();
    }

    /**
     * @param rgb    interleaved R,G,B bytes
     * @param width  columns
     * @param height rows
     * @return a PNG file's bytes
     */
    static byte[] png(byte[] rgb, int width, int height) {
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_3BYTE_BGR);
        byte[] bgr = ((DataBufferByte) img.getRaster().getDataBuffer()).getData();
        for (int i = 0; i < rgb.length; i += 3) {
            bgr[i] = rgb[i + 2];
            bgr[i + 1] = rgb[i + 1];
            bgr[i + 2] = rgb[i];
        }
        ImageWriter writer = ImageIO.getImageWritersByFormatName("png").next();
        ByteArrayOutputStream out = new ByteArrayOutputStream(rgb.length / 2);
        try (ImageOutputStream stream = ImageIO.createImageOutputStream(out)) {
            writer.setOutput(stream);
            ImageWriteParam param = writer.getDefaultWriteParam();
            if (param.canWriteCompressed()) {
                param.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
                param.setCompressionQuality(PNG_QUALITY);
            }
            writer.write(null, new IIOImage(img, null, null), param);
        } catch (IOException e) {
            // Writing to memory fails only on a broken ImageIO installation.
            throw new UncheckedIOException("PNG encoding failed", e);
        } finally {
            writer.dispose();
        }
        return out.toByteArray();
    }
}
