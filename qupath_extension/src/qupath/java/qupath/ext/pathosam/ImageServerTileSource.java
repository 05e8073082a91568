package qupath.ext.pathosam;

import io.github.pathosam.client.PathoSamException;
import io.github.pathosam.client.PixelRect;
import io.github.pathosam.client.RgbImages;
import io.github.pathosam.client.TileSource;
import qupath.lib.images.servers.ImageServer;
import qupath.lib.images.servers.PixelCalibration;
import qupath.lib.images.servers.ServerTools;
import qupath.lib.regions.ImagePlane;
import qupath.lib.regions.RegionRequest;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.util.Objects;

/**
 * The client core's {@link TileSource} over a QuPath {@link ImageServer}: each tile is one
 * {@link RegionRequest}, so QuPath picks the pyramid level, caches tiles and reads any format it
 * supports, and a region of any size never sits in memory whole.
 */
public final class ImageServerTileSource implements TileSource {

    private final ImageServer<BufferedImage> server;
    private final ImagePlane plane;

    /**
     * @param server an RGB image server
     * @param plane  the z-slice and time point to read
     * @throws PathoSamException when the image is not RGB
     */
    public ImageServerTileSource(ImageServer<BufferedImage> server, ImagePlane plane) {
        this.server = requireRgb(Objects.requireNonNull(server, "server"));
        this.plane = Objects.requireNonNull(plane, "plane");
    }

    /**
     * PathoSAM segments brightfield RGB (H&amp;E) only; a run checks this before it contacts the server.
     *
     * @param server an image server
     * @param <S>    its type
     * @return the server
     * @throws PathoSamException with status CLIENT and a message naming the image, when it is not RGB
     */
    public static <S extends ImageServer<?>> S requireRgb(S server) {
        if (!server.isRGB())
            throw new PathoSamException("CLIENT", PathoSamResources.format("error.notRgb",
                    ServerTools.getDisplayableImageName(server)), null);
        return server;
    }

    /**
     * @param server an image server
     * @return its level-0 pixel size in µm, NaN when it has no calibration (the run then goes at full resolution)
     */
    public static double pixelSizeMicrons(ImageServer<?> server) {
        PixelCalibration cal = server.getPixelCalibration();
        return cal.hasPixelSizeMicrons() ? cal.getAveragedPixelSizeMicrons() : Double.NaN;
    }

    @Override
    public int width() {
        return server.getWidth();
    }

    @Override
    public int height() {
        return server.getHeight();
    }

    @Override
    public byte[] readRgb(PixelRect region, double downsample, int outWidth, int outHeight) throws IOException {
        RegionRequest request = RegionRequest.createInstance(server.getPath(), downsample,
                region.x(), region.y(), region.width(), region.height(), plane);
        BufferedImage image = server.readRegion(request);
        if (image == null)
            throw new IOException("the image server returned no pixels for " + request);
        // QuPath rounds the downsampled size its own way; RgbImages fixes a one-pixel difference.
        return RgbImages.toRgb(image, outWidth, outHeight);
    }
}
