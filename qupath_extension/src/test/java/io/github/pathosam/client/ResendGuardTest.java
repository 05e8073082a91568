package io.github.pathosam.client;

import org.junit.jupiter.api.Test;
import org.locationtech.jts.geom.Coordinate;
import org.locationtech.jts.geom.GeometryFactory;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

class ResendGuardTest {

    private static final GeometryFactory F = new GeometryFactory();
    // Two neighbouring tiles: cores [0,100) and [100,200) in x, halo 20.
    private static final PlannedTile LEFT = new PlannedTile(0, new PixelRect(0, 0, 120, 100), new PixelRect(0, 0, 100, 100), 120, 100);
    private static final PlannedTile RIGHT = new PlannedTile(1, new PixelRect(80, 0, 120, 100), new PixelRect(100, 0, 100, 100), 120, 100);

    private static NucleusResult box(double x0, double x1, double y0, double y1) {
        var g = F.createPolygon(new Coordinate[]{new Coordinate(x0, y0), new Coordinate(x1, y0), new Coordinate(x1, y1),
                new Coordinate(x0, y1), new Coordinate(x0, y0)});
        return new NucleusResult(1, g, "", 0, 0, 1, g.getArea(), g.getCentroid().getX(), g.getCentroid().getY());
    }

    @Test
    void aResentTileDropsItsCopyOfAFinishedNeighboursSeamNucleus() {
        ResendGuard guard = new ResendGuard(20);
        // The left tile (first stream) saw one blob across the seam; the re-sent right tile sees most of it.
        assertEquals(1, guard.admit(List.of(box(90, 106, 40, 52)), LEFT, 0).size());
        List<NucleusResult> kept = guard.admit(List.of(box(92, 108, 40, 52), box(150, 160, 40, 50)), RIGHT, 1);
        assertEquals(1, kept.size());
        assertEquals(155, kept.get(0).centroidX(), 1e-9);
        assertEquals(1, guard.dropped());
    }

    @Test
    void theSameStreamIsLeftToTheServerAndTouchingNucleiAreTwo() {
        ResendGuard guard = new ResendGuard(20);
        guard.admit(List.of(box(90, 106, 40, 52)), LEFT, 0);
        // Same stream: the server's own seam guard already decided; the client does not second-guess it.
        assertEquals(1, guard.admit(List.of(box(92, 108, 40, 52)), RIGHT, 0).size());
        // Barely overlapping nuclei are two nuclei.
        assertEquals(1, guard.admit(List.of(box(104, 120, 60, 70)), RIGHT, 1).size());
        ResendGuard fresh = new ResendGuard(20);
        fresh.admit(List.of(box(100, 104, 60, 70)), LEFT, 0);
        assertEquals(1, fresh.admit(List.of(box(103, 120, 60, 70)), RIGHT, 1).size());
        assertEquals(0, guard.dropped() + fresh.dropped());
    }
}
