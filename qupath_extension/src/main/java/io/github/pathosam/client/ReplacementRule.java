package io.github.pathosam.client;

import org.locationtech.jts.geom.Coordinate;
import org.locationtech.jts.geom.Geometry;
import org.locationtech.jts.geom.GeometryFactory;
import org.locationtech.jts.geom.prep.PreparedGeometry;
import org.locationtech.jts.geom.prep.PreparedGeometryFactory;

import java.util.Collection;
import java.util.List;

/**
 * Which earlier detections a new run replaces: those made by PathoSAM (they carry
 * {@link NucleusMeasurements#SCORE}) whose centroid lies inside one of the regions being segmented
 * again, or all of them when the whole image is. Other detections (another tool's, or a user's)
 * are never touched. The rule is the Python batch's ({@code --replace}).
 */
public final class ReplacementRule {

    private static final GeometryFactory FACTORY = new GeometryFactory();

    private final List<PreparedGeometry> regions;

    private ReplacementRule(List<PreparedGeometry> regions) {
        this.regions = regions;
    }

    /** @return a rule that replaces every PathoSAM detection in the image */
    public static ReplacementRule wholeImage() {
        return new ReplacementRule(null);
    }

    /**
     * @param regions outlines (level-0 pixels) of the regions segmented again; empty replaces nothing
     * @return the rule
     */
    public static ReplacementRule within(Collection<? extends Geometry> regions) {
        return new ReplacementRule(regions.stream().map(PreparedGeometryFactory::prepare).toList());
    }

    /**
     * @param measurementNames the detection's measurement names
     * @param centroidX        its centroid x in level-0 pixels
     * @param centroidY        its centroid y in level-0 pixels
     * @return whether the new run removes it
     */
    public boolean replaces(Collection<String> measurementNames, double centroidX, double centroidY) {
        if (!NucleusMeasurements.isPathoSam(measurementNames))
            return false;
        if (regions == null)
            return true;
        var point = FACTORY.createPoint(new Coordinate(centroidX, centroidY));
        for (PreparedGeometry region : regions) {
            if (region.contains(point))
                return true;
        }
        return false;
    }
}
