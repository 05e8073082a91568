package qupath.ext.pathosam;

import java.util.Map;

/**
 * What one {@link PathoSam#detectObjects} run did.
 *
 * @param nuclei         detections added
 * @param replaced       earlier PathoSAM detections removed first
 * @param droppedAtSeams nuclei the server found in two tiles at a seam and returned once (they are
 *                       in {@code nuclei} once; the count says how often the seam guard decided)
 * @param nucleiPerClass detections added per class name ({@code ""} for unclassified)
 * @param regions        regions segmented (annotations, or 1 for the whole image)
 * @param model          the model that ran
 * @param downsample     level-0 pixels per working pixel
 * @param seconds        wall time of the run
 */
public record PathoSamResults(int nuclei, int replaced, long droppedAtSeams, Map<String, Integer> nucleiPerClass,
                              int regions, String model, double downsample, double seconds) {

    /** Makes the class map immutable. */
    public PathoSamResults {
        nucleiPerClass = Map.copyOf(nucleiPerClass);
    }

    /** @return a one-line summary for notifications and logs */
    public String summary() {
        return PathoSamResources.format("results.summary", nuclei, regions, model, downsample, seconds)
                + (replaced > 0 ? " " + PathoSamResources.format("results.replaced", replaced) : "")
                + (droppedAtSeams > 0 ? " " + PathoSamResources.format("results.seams", droppedAtSeams) : "");
    }
}
