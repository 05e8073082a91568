package io.github.pathosam.client;

import org.locationtech.jts.geom.Geometry;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
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
 * @param measurements     the server's measurements with QuPath's names (e.g. {@code "Area µm^2"},
 *                         {@code "Nucleus: Hematoxylin: Mean"}), in the server's order; empty unless asked for
 * @param cellGeometry     the cell grown from this nucleus (level-0 JTS polygon), or null for a nucleus only
 */
public record NucleusResult(long id, Geometry geometry, String className, int classId,
                            double classProbability, double score, double area,
                            double centroidX, double centroidY,
                            Map<String, Double> measurements, Geometry cellGeometry) {

    /** Checks that the geometry and class name are present; makes the measurements immutable. */
    public NucleusResult {
        Objects.requireNonNull(geometry, "geometry");
        Objects.requireNonNull(className, "className");
        measurements = measurements == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(measurements));
    }

    /** A nucleus without measurements or cell. */
    public NucleusResult(long id, Geometry geometry, String className, int classId,
                         double classProbability, double score, double area, double centroidX, double centroidY) {
        this(id, geometry, className, classId, classProbability, score, area, centroidX, centroidY, Map.of(), null);
    }

    /** @return whether the server grew a cell around this nucleus */
    public boolean isCell() {
        return cellGeometry != null && !cellGeometry.isEmpty();
    }

    /** @return whether the server gave this nucleus a class */
    public boolean isClassified() {
        return classId != 0 && !className.isEmpty();
    }
}
