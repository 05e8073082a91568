package qupath.ext.pathosam;

import io.github.pathosam.client.ScaleCheck;
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
     * @param tile    null when the region starts; then, before its first tile is sent, a progress
     *                with {@code tilesDone} 0 and the region's tile count; then each tile just finished
     */
    void update(int region, int regions, TileProgress tile);

    /**
     * Called once before any tile is sent, when the pixels the model would see do not suit it
     * ({@link ScaleCheck#isWarning()}); the run has already logged the warning.
     *
     * @param scale what the check found ({@link ScaleCheck#describe()} says it in words)
     * @return true to run anyway (the default: a script cannot ask), false to stop; the run then
     *         throws a {@link java.util.concurrent.CancellationException} and changes nothing
     */
    default boolean proceedDespite(ScaleCheck scale) {
        return true;
    }
}
