package io.github.pathosam.client;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TilePlannerTest {

    @Test
    void defaultTilesOfAnAlignedRegion() {
        List<PlannedTile> tiles = TilePlanner.plan(new PixelRect(0, 0, 768, 384), 1.0, 384, 64, 10_000, 10_000);
        assertEquals(2, tiles.size());
        assertEquals(new PixelRect(0, 0, 384, 384), tiles.get(0).core());
        assertEquals(new PixelRect(384, 0, 384, 384), tiles.get(1).core());
        // Halo clipped at the image's top-left corner, free elsewhere.
        assertEquals(PixelRect.fromCorners(0, 0, 448, 448), tiles.get(0).region());
        assertEquals(PixelRect.fromCorners(320, 0, 832, 448), tiles.get(1).region());
        assertEquals(512, tiles.get(1).width());
        assertEquals(448, tiles.get(1).height());
    }

    @Test
    void offOriginNonSquareDownsampledRegion() {
        // d = 2.5: step = 384 * 2.5 = 960 level-0 px, halo = 160 level-0 px.
        PixelRect region = new PixelRect(1000, 3000, 2500, 1100);
        List<PlannedTile> tiles = TilePlanner.plan(region, 2.5, 384, 64, 20_000, 4_200);
        assertEquals(3 * 2, tiles.size());
        // Row by row, left to right.
        assertEquals(PixelRect.fromCorners(1000, 3000, 1960, 3960), tiles.get(0).core());
        assertEquals(PixelRect.fromCorners(1960, 3000, 2920, 3960), tiles.get(1).core());
        assertEquals(PixelRect.fromCorners(2920, 3000, 3500, 3960), tiles.get(2).core());
        assertEquals(PixelRect.fromCorners(1000, 3960, 1960, 4100), tiles.get(3).core());
        // Halo grows by R(64 * 2.5) = 160 and is clipped at the image's bottom (4200).
        assertEquals(PixelRect.fromCorners(840, 2840, 2120, 4120), tiles.get(0).region());
        assertEquals(PixelRect.fromCorners(2760, 3800, 3660, 4200), tiles.get(5).region());
        // Tile pixels: R(1280 / 2.5) = 512, R(900 / 2.5) = 360, R(400 / 2.5) = 160.
        assertEquals(512, tiles.get(0).width());
        assertEquals(512, tiles.get(0).height());
        assertEquals(360, tiles.get(5).width());
        assertEquals(160, tiles.get(5).height());
        for (int i = 0; i < tiles.size(); i++)
            assertEquals(i, tiles.get(i).index());
    }

    @ParameterizedTest
    @CsvSource({
            "0, 0, 1000, 1000, 1.0, 384, 64",
            "17, 5, 777, 1301, 1.0, 384, 64",
            "123, 456, 3001, 2999, 1.5, 384, 64",
            "0, 0, 5000, 301, 3.3333, 256, 32",
            "50, 60, 999, 998, 0.75, 100, 10",
            "3, 3, 10, 7, 1.0, 384, 64",
            "0, 0, 2000, 2000, 2.0, 384, 0",
            "11, 13, 1001, 997, 1.0013020833333333, 384, 64",
    })
    void coresPartitionTheRegionAndTilesContainTheirCores(int x, int y, int w, int h, double d, int t, int halo) {
        int imageW = x + w + 200;
        int imageH = y + h + 100;
        PixelRect region = new PixelRect(x, y, w, h);
        List<PlannedTile> tiles = TilePlanner.plan(region, d, t, halo, imageW, imageH);
        long area = 0;
        for (PlannedTile tile : tiles) {
            assertTrue(tile.core().width() > 0 && tile.core().height() > 0, "empty core " + tile);
            area += tile.core().area();
            for (PlannedTile other : tiles)
                if (other != tile)
                    assertTrue(tile.core().intersection(other.core()).isEmpty(), tile + " overlaps " + other);
            // Each tile is its core grown by R(H*d), clipped to the image.
            int grow = TilePlanner.roundHalfUp(halo * d);
            PixelRect expected = PixelRect.fromCorners(tile.core().x() - grow, tile.core().y() - grow,
                    tile.core().maxX() + grow, tile.core().maxY() + grow).intersection(new PixelRect(0, 0, imageW, imageH));
            assertEquals(expected, tile.region());
            assertEquals(Math.max(1, Math.round(tile.region().width() / d)), tile.width());
            assertEquals(Math.max(1, Math.round(tile.region().height() / d)), tile.height());
        }
        assertEquals(region.area(), area, "cores must cover the region exactly");
        // Grid lines at x + R(i*T*d).
        for (PlannedTile tile : tiles) {
            int col = tiles.stream().filter(o -> o.core().y() == tile.core().y() && o.core().x() < tile.core().x())
                    .toList().size();
            assertEquals(x + TilePlanner.roundHalfUp(col * t * d), tile.core().x());
        }
    }

    @Test
    void regionIsClippedToTheImage() {
        List<PlannedTile> tiles = TilePlanner.plan(new PixelRect(-100, -50, 600, 400), 1.0, 384, 64, 300, 200);
        assertEquals(1, tiles.size());
        assertEquals(new PixelRect(0, 0, 300, 200), tiles.get(0).core());
        assertEquals(new PixelRect(0, 0, 300, 200), tiles.get(0).region());
        assertTrue(TilePlanner.plan(new PixelRect(500, 500, 10, 10), 1.0, 384, 64, 300, 200).isEmpty());
    }

    @Test
    void roundingIsHalfUpNotHalfEven() {
        assertEquals(3, TilePlanner.roundHalfUp(2.5));
        assertEquals(4, TilePlanner.roundHalfUp(3.5));
        assertEquals(2, TilePlanner.roundHalfUp(2.4999));
        // 5 level-0 px at d = 2 -> 2.5 -> 3 tile px (Python's round() would give 2).
        assertEquals(3, TilePlanner.tilePixels(5, 2.0));
        assertEquals(1, TilePlanner.tilePixels(1, 8.0));
    }

    @Test
    void invalidArgumentsAreRejected() {
        PixelRect r = new PixelRect(0, 0, 10, 10);
        assertThrows(IllegalArgumentException.class, () -> TilePlanner.plan(r, 0, 384, 64, 10, 10));
        assertThrows(IllegalArgumentException.class, () -> TilePlanner.plan(r, Double.NaN, 384, 64, 10, 10));
        assertThrows(IllegalArgumentException.class, () -> TilePlanner.plan(r, 1, 0, 64, 10, 10));
        assertThrows(IllegalArgumentException.class, () -> TilePlanner.plan(r, 1, 384, -1, 10, 10));
        assertThrows(IllegalArgumentException.class, () -> TilePlanner.plan(r, 1, 384, 64, 0, 10));
        assertThrows(IllegalArgumentException.class, () -> new PixelRect(0, 0, -1, 3));
    }
}
