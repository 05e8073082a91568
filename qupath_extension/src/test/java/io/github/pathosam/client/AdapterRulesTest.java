package io.github.pathosam.client;

import org.junit.jupiter.api.Test;
import org.locationtech.jts.geom.Geometry;
import org.locationtech.jts.geom.GeometryFactory;
import org.locationtech.jts.geom.MultiPolygon;
import org.locationtech.jts.io.ParseException;
import org.locationtech.jts.io.WKTReader;

import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Rules the QuPath adapter applies to results: measurements, replacement, clipping, resolution. */
class AdapterRulesTest {

    private static final WKTReader WKT = new WKTReader(new GeometryFactory());

    private static Geometry wkt(String text) {
        try {
            return WKT.read(text);
        } catch (ParseException e) {
            throw new AssertionError(e);
        }
    }

    private static NucleusResult nucleus(long id, Geometry g, String cls) {
        var c = g.getCentroid();
        return new NucleusResult(id, g, cls, cls.isEmpty() ? 0 : 1, cls.isEmpty() ? 0 : 0.75, 0.9, g.getArea(), c.getX(), c.getY());
    }

    private static Geometry square(double x, double y, double size) {
        return wkt("POLYGON ((%s %s, %s %s, %s %s, %s %s, %s %s))".formatted(x, y, x + size, y, x + size, y + size, x, y + size, x, y));
    }

    @Test
    void measurementNamesAreThePythonBatchOnes() {
        assertEquals("PathoSAM: score", NucleusMeasurements.SCORE);
        assertEquals("PathoSAM: class probability", NucleusMeasurements.CLASS_PROBABILITY);
        assertEquals(Map.of(NucleusMeasurements.SCORE, 0.9), NucleusMeasurements.of(nucleus(1, square(0, 0, 4), "")));
        Map<String, Double> classified = NucleusMeasurements.of(nucleus(1, square(0, 0, 4), "Neoplastic"));
        assertEquals(List.of(NucleusMeasurements.SCORE, NucleusMeasurements.CLASS_PROBABILITY), List.copyOf(classified.keySet()));
        assertEquals(0.75, classified.get(NucleusMeasurements.CLASS_PROBABILITY));
        assertFalse(NucleusMeasurements.of(nucleus(1, square(0, 0, 4), "")).containsKey(NucleusMeasurements.CLASS_PROBABILITY));
    }

    @Test
    void replacementTouchesOnlyPathoSamDetectionsInsideTheRegions() {
        Set<String> ours = Set.of(NucleusMeasurements.SCORE, "Area µm^2");
        Set<String> theirs = Set.of("Nucleus: Area", "Detection probability");
        ReplacementRule rule = ReplacementRule.within(List.of(square(0, 0, 100), square(200, 0, 50)));
        assertTrue(rule.replaces(ours, 50, 50));
        assertTrue(rule.replaces(ours, 225, 10));
        assertFalse(rule.replaces(ours, 150, 50), "between the regions");
        assertFalse(rule.replaces(ours, 100, 50), "on the border: the centroid is not inside");
        assertFalse(rule.replaces(theirs, 50, 50), "another tool's detection is never removed");
        assertTrue(ReplacementRule.wholeImage().replaces(ours, 1e6, -5));
        assertFalse(ReplacementRule.wholeImage().replaces(theirs, 1, 1));
        assertFalse(ReplacementRule.within(List.of()).replaces(ours, 1, 1));
    }

    @Test
    void clippingKeepsNucleiByCentroidAndCutsThemAtTheBorder() {
        // An L-shaped region with a hole: [0,100]^2 minus [50,100]x[50,100], hole [10,20]^2.
        Geometry region = wkt("POLYGON ((0 0, 100 0, 100 50, 50 50, 50 100, 0 100, 0 0), (10 10, 20 10, 20 20, 10 20, 10 10))");
        NucleusResult inside = nucleus(1, square(30, 30, 8), "Neoplastic");
        NucleusResult crossing = nucleus(2, square(44, 60, 10), "Inflammatory");   // centroid 49,65 in; cut at x=50
        NucleusResult outsideCentroid = nucleus(3, square(47, 70, 10), "");        // centroid 52,75 out
        NucleusResult far = nucleus(4, square(300, 300, 5), "");
        NucleusResult aroundHole = nucleus(5, square(8, 8, 6), "");               // centroid 11,11 inside the hole: out
        NucleusResult overHoleEdge = nucleus(6, square(18, 12, 6), "");           // centroid 21,15 in; cut by the hole
        List<NucleusResult> kept = new RegionClipper(region).clip(List.of(inside, crossing, outsideCentroid, far, aroundHole, overHoleEdge));
        assertEquals(List.of(1L, 2L, 6L), kept.stream().map(NucleusResult::id).toList());
        assertSame(inside, kept.get(0));
        NucleusResult cut = kept.get(1);
        assertEquals(60, cut.area(), 1e-9, "6 x 10 px remain inside x < 50");
        assertTrue(region.covers(cut.geometry()));
        assertEquals("Inflammatory", cut.className());
        assertEquals(49, cut.centroidX(), 1e-9, "the centroid stays the server's (it decided ownership)");
        assertEquals(24, kept.get(2).area(), 1e-9, "the part inside the hole (x < 20) is cut away");
    }

    @Test
    void clippingKeepsSeveralPartsAsAMultiPolygon() {
        // A U-shaped region: its gap is x 10-20, y 10-30.
        Geometry region = wkt("POLYGON ((0 0, 30 0, 30 30, 20 30, 20 10, 10 10, 10 30, 0 30, 0 0))");
        // A lobe in the left arm with a strip across the gap into the right arm; centroid (8.3, 17.9).
        Geometry lobed = wkt("POLYGON ((0 12, 25 12, 25 16, 8 16, 8 28, 0 28, 0 12))");
        NucleusResult across = nucleus(1, lobed, "");
        NucleusResult inGap = nucleus(2, square(12, 14, 6), "");
        List<NucleusResult> kept = new RegionClipper(region).clip(List.of(across, inGap));
        assertEquals(List.of(1L), kept.stream().map(NucleusResult::id).toList());
        Geometry g = kept.get(0).geometry();
        assertInstanceOf(MultiPolygon.class, g, "the left lobe and the tip in the right arm");
        assertEquals(2, g.getNumGeometries());
        assertEquals(lobed.getArea() - 10 * 4, g.getArea(), 1e-9);
        assertEquals(g.getArea(), kept.get(0).area(), 1e-9);
    }

    @Test
    void downsampleFromPixelSizes() {
        assertEquals(0.5, WorkingResolution.downsample(0.25, 0.5), 1e-12);
        assertEquals(2.0, WorkingResolution.downsample(0.5, 0.25), 1e-12);
        assertEquals(1.0, WorkingResolution.downsample(0.25, Double.NaN));
        assertEquals(1.0, WorkingResolution.downsample(0.25, 0));
        assertEquals(1.0, WorkingResolution.downsample(0, 0.25));
        assertEquals(1.0, WorkingResolution.downsample(Double.POSITIVE_INFINITY, 0.25));
    }

    private static void assertSame(Object expected, Object actual) {
        org.junit.jupiter.api.Assertions.assertSame(expected, actual);
    }
}
