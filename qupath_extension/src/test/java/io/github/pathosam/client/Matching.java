package io.github.pathosam.client;

import org.locationtech.jts.geom.Geometry;
import org.locationtech.jts.index.strtree.STRtree;
import org.locationtech.jts.operation.overlayng.OverlayNG;
import org.locationtech.jts.operation.overlayng.OverlayNGRobust;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** Geometry comparisons for live tests: duplicates, IoU matching, ground-truth recall. */
final class Matching {

    private Matching() {
    }

    static double iou(Geometry a, Geometry b) {
        if (!a.getEnvelopeInternal().intersects(b.getEnvelopeInternal()))
            return 0;
        double inter = OverlayNGRobust.overlay(a, b, OverlayNG.INTERSECTION).getArea();
        double union = a.getArea() + b.getArea() - inter;
        return union <= 0 ? 0 : inter / union;
    }

    private static STRtree index(List<Geometry> geometries) {
        STRtree tree = new STRtree();
        for (Geometry g : geometries)
            tree.insert(g.getEnvelopeInternal(), g);
        return tree;
    }

    /** Fails when two nuclei overlap by IoU > 0.5: the same nucleus returned by two tiles. */
    static void assertNoDuplicates(List<NucleusResult> nuclei) {
        List<Geometry> geometries = nuclei.stream().map(NucleusResult::geometry).toList();
        STRtree tree = index(geometries);
        for (Geometry g : geometries) {
            for (Object o : tree.query(g.getEnvelopeInternal())) {
                Geometry other = (Geometry) o;
                if (other != g && iou(g, other) > 0.5)
                    fail("duplicate nucleus across tiles: " + g.getCentroid() + " and " + other.getCentroid());
            }
        }
    }

    /** Best IoU of each reference geometry; at least {@code share} of them must reach {@code minIoU}. */
    static void assertSameGeometries(List<Geometry> reference, List<Geometry> actual, double minIoU, double share) {
        if (reference.isEmpty())
            return;
        STRtree tree = index(actual);
        int good = 0;
        List<String> bad = new ArrayList<>();
        for (Geometry ref : reference) {
            double best = 0;
            for (Object o : tree.query(ref.getEnvelopeInternal()))
                best = Math.max(best, iou(ref, (Geometry) o));
            if (best >= minIoU)
                good++;
            else if (bad.size() < 5)
                bad.add(ref.getCentroid() + " best IoU " + String.format("%.3f", best));
        }
        double fraction = good / (double) reference.size();
        assertTrue(fraction >= share, String.format("only %d of %d reference nuclei matched with IoU >= %.2f; e.g. %s",
                good, reference.size(), minIoU, bad));
    }

    /**
     * @param recall    share of ground-truth nuclei (inside the region, large enough) found
     * @param precision share of returned nuclei near some ground-truth nucleus
     */
    record Score(double recall, double precision, int truths, int predictions) {
    }

    static Score againstTruth(List<NucleusResult> nuclei, List<SyntheticSlide.Truth> truth, PixelRect region,
                              double maxDistance, double minArea) {
        int truths = 0, found = 0;
        for (SyntheticSlide.Truth t : truth) {
            // Skip tiny remnants and nuclei whose centroid sits right at the region's edge: their
            // predicted centroid may fall just outside and belong to no tile of this region.
            if (t.area() < minArea || !region.contains(t.cx(), t.cy())
                    || !new PixelRect(region.x() + 3, region.y() + 3, region.width() - 6, region.height() - 6)
                    .contains(t.cx(), t.cy()))
                continue;
            truths++;
            if (nuclei.stream().anyMatch(n -> Math.hypot(n.centroidX() - t.cx(), n.centroidY() - t.cy()) <= maxDistance))
                found++;
        }
        int near = 0;
        for (NucleusResult n : nuclei)
            if (truth.stream().anyMatch(t -> Math.hypot(n.centroidX() - t.cx(), n.centroidY() - t.cy()) <= maxDistance))
                near++;
        return new Score(truths == 0 ? 1 : found / (double) truths, nuclei.isEmpty() ? 0 : near / (double) nuclei.size(),
                truths, nuclei.size());
    }
}
