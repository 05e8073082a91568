package io.github.pathosam.client;

import org.locationtech.jts.geom.Coordinate;
import org.locationtech.jts.geom.Geometry;
import org.locationtech.jts.geom.GeometryFactory;
import org.locationtech.jts.geom.Polygon;
import org.locationtech.jts.geom.prep.PreparedGeometry;
import org.locationtech.jts.geom.prep.PreparedGeometryFactory;
import org.locationtech.jts.operation.overlayng.OverlayNG;
import org.locationtech.jts.operation.overlayng.OverlayNGRobust;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Keeps the nuclei of a region's bounding box that belong to the region's outline, cut at its border.
 *
 * <p>The rule is the Python batch's ({@code pathosam_server.batch.run.clip_to_roi}): a nucleus belongs to
 * the region when its centroid lies inside the outline (strictly: a centroid on the border does not
 * count, so two touching regions never both keep a nucleus); a nucleus that crosses the border is cut
 * to the part inside, and dropped if nothing with an area remains. Holes and several parts are kept.
 */
public final class RegionClipper {

    private final Geometry region;
    private final PreparedGeometry prepared;

    /**
     * @param region the region's outline in level-0 pixels (a Polygon or MultiPolygon, holes allowed)
     */
    public RegionClipper(Geometry region) {
        this.region = Objects.requireNonNull(region, "region");
        this.prepared = PreparedGeometryFactory.prepare(region);
    }

    /**
     * @param nuclei nuclei of the region's bounding box
     * @return the nuclei that belong to the region, their geometry and area updated where cut
     */
    public List<NucleusResult> clip(List<NucleusResult> nuclei) {
        List<NucleusResult> kept = new ArrayList<>(nuclei.size());
        GeometryFactory factory = region.getFactory();
        for (NucleusResult n : nuclei) {
            if (!prepared.contains(factory.createPoint(new Coordinate(n.centroidX(), n.centroidY()))))
                continue;
            if (prepared.covers(n.geometry())) {
                kept.add(n);
                continue;
            }
            Geometry cut = polygonalParts(OverlayNGRobust.overlay(n.geometry(), region, OverlayNG.INTERSECTION), factory);
            if (cut == null)
                continue;
            // The server measured the whole nucleus: its figures would not describe the cut outline, so a cut
            // nucleus keeps none (QuPath shows them as missing); its cell is cut by the same boundary.
            Geometry cell = n.isCell()
                    ? polygonalParts(OverlayNGRobust.overlay(n.cellGeometry(), region, OverlayNG.INTERSECTION), factory)
                    : null;
            kept.add(new NucleusResult(n.id(), cut, n.className(), n.classId(), n.classProbability(), n.score(),
                    cut.getArea(), n.centroidX(), n.centroidY(), Map.of(), cell));
        }
        return kept;
    }

    /** The polygons with an area in an overlay result (which may hold lines or points), or null. */
    static Geometry polygonalParts(Geometry geometry, GeometryFactory factory) {
        List<Polygon> parts = new ArrayList<>();
        for (int i = 0; i < geometry.getNumGeometries(); i++) {
            Geometry part = geometry.getGeometryN(i);
            if (part instanceof Polygon p && p.getArea() > 0)
                parts.add(p);
        }
        if (parts.isEmpty())
            return null;
        return parts.size() == 1 ? parts.get(0) : factory.createMultiPolygon(parts.toArray(Polygon[]::new));
    }
}
