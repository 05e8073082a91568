package io.github.pathosam.client;

import io.github.pathosam.grpc.v1.SegmentParams;

/**
 * What the server measures and whether it grows cells: QuPath's shape measurements, H&E stain
 * statistics by colour deconvolution, and cell expansion, all computed on the server so that the
 * toolbar, scripts and the Python batch get the same numbers with QuPath's names.
 *
 * @param measureShape       area, length, circularity, solidity, max and min diameter
 * @param measureIntensity   hematoxylin and eosin optical density mean, median, min, max, std.dev.
 * @param cellExpansion      grow each nucleus into a cell by this distance (µm when the image is
 *                           calibrated, level-0 px otherwise); 0 = nuclei only
 * @param cellConstrainScale keep each cell inside its nucleus scaled by this factor; 0 = no limit
 * @param pixelSizeUm        the image's level-0 pixel size in µm; 0 when uncalibrated (lengths in px)
 */
public record AnalysisOptions(boolean measureShape, boolean measureIntensity, double cellExpansion,
                              double cellConstrainScale, double pixelSizeUm) {

    /** Nuclei only, no measurements beyond PathoSAM's score and class probability. */
    public static final AnalysisOptions NONE = new AnalysisOptions(false, false, 0, 0, 0);

    /**
     * Checks the ranges.
     *
     * @throws IllegalArgumentException naming the option that is out of range
     */
    public AnalysisOptions {
        if (!(cellExpansion >= 0 && cellExpansion <= 1000))
            throw new IllegalArgumentException("cellExpansion must be in [0, 1000] (µm, or px when uncalibrated), got " + cellExpansion);
        if (!(cellConstrainScale == 0 || (cellConstrainScale >= 1 && cellConstrainScale <= 100)))
            throw new IllegalArgumentException("cellConstrainScale must be 0 (no limit) or in [1, 100], got " + cellConstrainScale);
        if (Double.isNaN(pixelSizeUm) || Double.isInfinite(pixelSizeUm) || pixelSizeUm < 0)
            pixelSizeUm = 0;  // uncalibrated
    }

    /**
     * @param um the image's level-0 pixel size in µm (NaN or 0: uncalibrated)
     * @return these options for an image of that pixel size
     */
    public AnalysisOptions withPixelSize(double um) {
        return new AnalysisOptions(measureShape, measureIntensity, cellExpansion, cellConstrainScale, um);
    }

    /** @return whether the server grows cells */
    public boolean cells() {
        return cellExpansion > 0;
    }

    /**
     * The halo a tile needs so that cells at tile seams are whole: twice the expansion, in tile pixels
     * (a cell competes with nuclei up to twice its expansion away). The server refuses smaller halos.
     *
     * @param downsample level-0 pixels per working pixel
     * @return the smallest halo in working pixels (0 without cells)
     */
    public int haloNeeded(double downsample) {
        if (!cells())
            return 0;
        double level0 = pixelSizeUm > 0 ? cellExpansion / pixelSizeUm : cellExpansion;
        return (int) Math.ceil(2 * level0 / downsample - 1e-9);
    }

    /** Sets what these options ask for; unset fields keep the server's defaults (nothing measured). */
    void applyTo(SegmentParams.Builder params) {
        if (measureShape)
            params.setMeasureShape(true);
        if (measureIntensity)
            params.setMeasureIntensity(true);
        if (pixelSizeUm > 0)
            params.setPixelSizeUm(pixelSizeUm);
        if (cellExpansion > 0)
            params.setCellExpansion(cellExpansion);
        if (cellConstrainScale > 0)
            params.setCellConstrainScale(cellConstrainScale);
    }
}
