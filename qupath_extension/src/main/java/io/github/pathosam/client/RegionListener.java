package io.github.pathosam.client;

import java.util.List;

/**
 * Receives the results of a region stream as they arrive. Calls come from a gRPC thread, one at
 * a time and in the server's order; a slow listener slows the stream down (it is flow-controlled)
 * but loses nothing. An exception thrown here cancels the stream and is rethrown by
 * {@link RegionCall#run()}.
 */
public interface RegionListener {

    /**
     * Nuclei owned by one tile, in level-0 coordinates.
     *
     * @param tileIndex the tile's number in the plan
     * @param nuclei    the tile's nuclei, possibly empty
     */
    default void onNuclei(long tileIndex, List<NucleusResult> nuclei) {
    }

    /**
     * One tile is done.
     *
     * @param progress counts and timing
     */
    default void onProgress(TileProgress progress) {
    }

    /**
     * The stream is complete; no call follows.
     *
     * @param summary the server's summary
     */
    default void onSummary(RegionSummary summary) {
    }
}
