package io.github.pathosam.client;

import org.locationtech.jts.geom.Geometry;

import java.util.Objects;

/**
 * One segmented nucleus, in level-0 pixel coordinates.
 *
 * @param id               unique within one region stream / tile call / prompt call
 * @param geometry         the outline: a JTS Polygon or MultiPolygon, holes kept
 * @param className        class name as the server's model names it; empty when unclassified
 * @param classId          PanNuke class id (0 = background / unclassified)
 * @param classProbability mean probability of the class over the nucleus, in [0, 1]
 * @param score            segmentation confidence in [0, 1]
 * @param area             area in level-0 square pixels (of the unsimplified mask)
 * @param centroidX        centroid x in level-0 pixels (of the unsimplified mask)
 * @param centroidY        centroid y in level-0 pixels
 */
public record NucleusResult(long id, Geometry geometry, String className, int classId,
                            double classProbability, double score, double area,
                            double centroidX, double centroidY) {

    /** Checks that the geometry and class name are present. */
    public NucleusResult {
        Objects.requireNonNull(geometry, "geometry");
        Objects.requireNonNull(className, "className");
    }

    /** @return whether the server gave this nucleus a class */
    public boolean isClassified() {
        return classId != 0 && !className.isEmpty();
    }
}
