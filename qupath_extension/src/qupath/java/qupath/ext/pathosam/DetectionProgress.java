package qupath.ext.pathosam;

import io.github.pathosam.client.TileProgress;

/**
 * Progress of a {@link PathoSam} run, reported on the thread that runs it; an implementation
 * that updates a user interface hands it to that interface's thread itself.
 */
@FunctionalInterface
public interface DetectionProgress {

    /** Reports nothing. */
    DetectionProgress NONE = (region, regions, tile) -> { };

    /**
     * @param region  index of the region being segmented, from 0
     * @param regions number of regions
     * @param tile    the tile just finished, or null when the region starts
     */
    void update(int region, int regions, TileProgress tile);
}
