package io.github.pathosam.client;

import java.util.List;

/**
 * The answer to a single-tile segmentation.
 *
 * @param nuclei  the tile's nuclei, level-0 coordinates
 * @param summary the server's summary of the call
 */
public record TileResult(List<NucleusResult> nuclei, RegionSummary summary) {

    /** Copies the list. */
    public TileResult {
        nuclei = List.copyOf(nuclei);
    }
}
