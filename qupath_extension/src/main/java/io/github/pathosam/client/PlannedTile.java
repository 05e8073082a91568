package io.github.pathosam.client;

/**
 * One tile of a region plan: the level-0 rectangle whose pixels are sent, the part of it the
 * tile owns (its core), and the size of its pixel array at the plan's downsample.
 *
 * @param index  the tile's number in the plan, echoed by the server in progress messages
 * @param region level-0 rectangle the pixels cover: the core grown by the halo, clipped to the image
 * @param core   level-0 rectangle this tile owns; the server returns a nucleus from the tile whose
 *               core contains its centroid
 * @param width  tile image width in pixels: {@code max(1, roundHalfUp(region.width / downsample))}
 * @param height tile image height in pixels: {@code max(1, roundHalfUp(region.height / downsample))}
 */
public record PlannedTile(int index, PixelRect region, PixelRect core, int width, int height) {

    /**
     * Validates the tile.
     *
     * @throws IllegalArgumentException when the core is not inside the region or a size is not positive
     */
    public PlannedTile {
        if (region.intersection(core).area() != core.area())
            throw new IllegalArgumentException("core " + core + " is not inside tile region " + region);
        if (width < 1 || height < 1)
            throw new IllegalArgumentException("tile size must be positive: " + width + "x" + height);
    }
}
