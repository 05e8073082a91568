package io.github.pathosam.client;

/**
 * The downsample at which an image is sent to the model, from pixel sizes.
 *
 * <p>PathoSAM was trained on 40x scans (about 0.25 µm per pixel); a slide scanned at 0.5 µm per pixel
 * must be read at downsample 0.5 (each image pixel becomes two) so that nuclei have the size the
 * model knows. The rule is the Python batch's ({@code pathosam_server.batch.run.image_downsample}), so a
 * script in QuPath and a headless batch send the same tiles.
 */
public final class WorkingResolution {

    private WorkingResolution() {
    }

    /**
     * @param workingPixelSizeUm the pixel size the model works at (from GetInfo, or the user's
     *                           override), in µm; 0 or NaN when unknown
     * @param imagePixelSizeUm   the image's level-0 pixel size in µm; 0 or NaN when uncalibrated
     * @return {@code working / image}, or 1 (full resolution) when either size is unknown
     */
    public static double downsample(double workingPixelSizeUm, double imagePixelSizeUm) {
        if (!isKnown(workingPixelSizeUm) || !isKnown(imagePixelSizeUm))
            return 1.0;
        return workingPixelSizeUm / imagePixelSizeUm;
    }

    /**
     * @param pixelSizeUm a pixel size in µm
     * @return whether it is a usable (finite, positive) size
     */
    public static boolean isKnown(double pixelSizeUm) {
        return Double.isFinite(pixelSizeUm) && pixelSizeUm > 0;
    }
}
