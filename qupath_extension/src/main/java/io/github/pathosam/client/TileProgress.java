package io.github.pathosam.client;

/**
 * The server finished one tile of a region stream.
 *
 * @param tileIndex  the tile's number in the plan
 * @param nuclei     nuclei the tile owned (sent in the batch before this message)
 * @param tilesDone  tiles finished so far in this stream
 * @param tilesTotal tiles in the plan
 * @param seconds    server time spent on this tile
 */
public record TileProgress(long tileIndex, int nuclei, int tilesDone, int tilesTotal, double seconds) {

    /** @return the finished share of the plan in [0, 1] */
    public double fraction() {
        return tilesTotal == 0 ? 1.0 : Math.min(1.0, tilesDone / (double) tilesTotal);
    }
}
