package qupath.ext.pathosam;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Collectors;

import qupath.lib.images.ImageData;

/**
 * What one {@link PathoSam#detectObjects} run did.
 *
 * @param nuclei             detections added
 * @param replaced           earlier PathoSAM detections removed first
 * @param droppedAtSeams     nuclei the server found in two tiles at a seam and returned once (they are
 *                           in {@code nuclei} once; the count says how often the seam guard decided)
 * @param nucleiPerClass     detections added per class name: when the run classified, every class of
 *                           the model in its order (0 where none), then {@code ""} for unclassified ones
 * @param regions            regions segmented (annotations, or 1 for the whole image)
 * @param model              the model that ran
 * @param downsample         level-0 pixels per working pixel
 * @param workingPixelSizeUm the pixel size the model saw, in µm; NaN when the image has no pixel size
 * @param seconds            wall time of the run
 * @param provenance         how the results were made (model, weights, server, pixel sizes, tiles), as the
 *                           workflow step records it
 */
public record PathoSamResults(int nuclei, int replaced, long droppedAtSeams, Map<String, Integer> nucleiPerClass,
                              int regions, String model, double downsample, double workingPixelSizeUm, double seconds,
                              Map<String, Object> provenance) {

    /**
     * The image property a run's provenance is kept under, with the image's data (saved in its .qpdata);
     * scripts read it with {@code getCurrentImageData().getProperty("PathoSAM provenance")}. The latest run
     * wins; every run also stays in the image's history (the workflow step).
     */
    public static final String PROVENANCE_PROPERTY = "PathoSAM provenance";

    /** Makes the maps immutable, keeping their order. */
    public PathoSamResults {
        nucleiPerClass = Collections.unmodifiableMap(new LinkedHashMap<>(nucleiPerClass));
        provenance = Collections.unmodifiableMap(new LinkedHashMap<>(provenance));
    }

    /** @return a one-line summary for notifications and logs */
    public String summary() {
        String main = Double.isNaN(workingPixelSizeUm)
                ? PathoSamResources.format("results.summaryUncalibrated", nuclei, regions, model, workingPixelSizeUm,
                        downsample, seconds)
                : PathoSamResources.format("results.summary", nuclei, regions, model, workingPixelSizeUm, downsample,
                        seconds);
        return main
                + (replaced > 0 ? " " + PathoSamResources.format("results.replaced", replaced) : "")
                + (droppedAtSeams > 0 ? " " + PathoSamResources.format("results.seams", droppedAtSeams) : "");
    }

    /** @return the provenance as "name: value" lines, in its order (the image property's text) */
    public String provenanceText() {
        return provenance.entrySet().stream().map(e -> e.getKey() + ": " + e.getValue())
                .collect(Collectors.joining("\n"));
    }

    /**
     * Stores the provenance on the image's data under {@link #PROVENANCE_PROPERTY}, for toolbar and script
     * runs alike (a paquo batch writes the same provenance into the project entry's metadata instead).
     *
     * @param imageData the image the run segmented
     */
    public void recordIn(ImageData<?> imageData) {
        imageData.setProperty(PROVENANCE_PROPERTY, provenanceText());
    }
}
