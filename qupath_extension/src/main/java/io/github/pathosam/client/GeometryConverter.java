package io.github.pathosam.client;

import io.github.pathosam.grpc.v1.Nucleus;
import io.github.pathosam.grpc.v1.Ring;
import org.locationtech.jts.geom.Coordinate;
import org.locationtech.jts.geom.Geometry;
import org.locationtech.jts.geom.GeometryFactory;
import org.locationtech.jts.geom.LinearRing;
import org.locationtech.jts.geom.MultiPolygon;
import org.locationtech.jts.geom.Polygon;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Converts between the wire {@code Geometry} (packed level-0 x,y rings; polygons with holes;
 * several parts) and JTS geometries. The wire already carries level-0 coordinates, so the
 * conversion never scales or shifts: the Python side's geometry module is the one place where
 * tile pixels become level-0 pixels.
 */
public final class GeometryConverter {

    private final GeometryFactory factory;

    /** Uses a floating-precision {@link GeometryFactory}. */
    public GeometryConverter() {
        this(new GeometryFactory());
    }

    /**
     * @param factory the factory new geometries are made with (QuPath passes its own default one)
     */
    public GeometryConverter(GeometryFactory factory) {
        this.factory = Objects.requireNonNull(factory, "factory");
    }

    /**
     * Wire geometry to JTS. Rings with fewer than three distinct vertices are dropped (a polygon
     * whose exterior is dropped loses its holes too), so a degenerate part never reaches JTS.
     *
     * @param geometry the wire geometry
     * @return a Polygon for one part, a MultiPolygon for several, an empty Polygon for none
     * @throws IllegalArgumentException when a ring has an odd number of coordinates or a non-finite one
     */
    public Geometry toJts(io.github.pathosam.grpc.v1.Geometry geometry) {
        List<Polygon> parts = new ArrayList<>(geometry.getPolygonsCount());
        for (io.github.pathosam.grpc.v1.Polygon polygon : geometry.getPolygonsList()) {
            LinearRing shell = toRing(polygon.getExterior());
            if (shell == null)
                continue;
            List<LinearRing> holes = new ArrayList<>(polygon.getHolesCount());
            for (Ring hole : polygon.getHolesList()) {
                LinearRing ring = toRing(hole);
                if (ring != null)
                    holes.add(ring);
            }
            parts.add(factory.createPolygon(shell, holes.toArray(LinearRing[]::new)));
        }
        if (parts.isEmpty())
            return factory.createPolygon();
        if (parts.size() == 1)
            return parts.get(0);
        return factory.createMultiPolygon(parts.toArray(Polygon[]::new));
    }

    /**
     * JTS to wire geometry. Polygons, MultiPolygons and collections of them are accepted; empty
     * parts are skipped. The closing vertex of each ring is not repeated on the wire.
     *
     * @param geometry a polygonal JTS geometry
     * @return the wire geometry
     * @throws IllegalArgumentException for points, lines or other non-polygonal parts
     */
    public io.github.pathosam.grpc.v1.Geometry toProto(Geometry geometry) {
        io.github.pathosam.grpc.v1.Geometry.Builder builder = io.github.pathosam.grpc.v1.Geometry.newBuilder();
        addPolygons(geometry, builder);
        return builder.build();
    }

    /**
     * Wire nucleus to a {@link NucleusResult}.
     *
     * @param nucleus the wire nucleus
     * @return the result record with a JTS geometry
     */
    public NucleusResult toResult(Nucleus nucleus) {
        return new NucleusResult(
                nucleus.getId(),
                toJts(nucleus.getGeometry()),
                nucleus.getClassName(),
                nucleus.getClassId(),
                nucleus.getClassProbability(),
                nucleus.getScore(),
                nucleus.getArea(),
                nucleus.getCentroidX(),
                nucleus.getCentroidY(),
                sorted(nucleus.getMeasurementsMap()),
                nucleus.hasCellGeometry() ? toJts(nucleus.getCellGeometry()) : null);
    }

    /** Protobuf maps have no order; a table's columns should not change from one nucleus to the next. */
    private static Map<String, Double> sorted(Map<String, Double> measurements) {
        return measurements.isEmpty() ? Map.of() : new TreeMap<>(measurements);
    }

    /**
     * @param nuclei wire nuclei
     * @return their result records, in order
     */
    public List<NucleusResult> toResults(List<Nucleus> nuclei) {
        List<NucleusResult> results = new ArrayList<>(nuclei.size());
        for (Nucleus nucleus : nuclei)
            results.add(toResult(nucleus));
        return List.copyOf(results);
    }

    private void addPolygons(Geometry geometry, io.github.pathosam.grpc.v1.Geometry.Builder builder) {
        if (geometry instanceof Polygon polygon) {
            if (polygon.isEmpty())
                return;
            io.github.pathosam.grpc.v1.Polygon.Builder part = io.github.pathosam.grpc.v1.Polygon.newBuilder()
                    .setExterior(toRing(polygon.getExteriorRing()));
            for (int i = 0; i < polygon.getNumInteriorRing(); i++)
                part.addHoles(toRing(polygon.getInteriorRingN(i)));
            builder.addPolygons(part);
        } else if (geometry instanceof MultiPolygon || "GeometryCollection".equals(geometry.getGeometryType())) {
            for (int i = 0; i < geometry.getNumGeometries(); i++)
                addPolygons(geometry.getGeometryN(i), builder);
        } else {
            throw new IllegalArgumentException("not a polygonal geometry: " + geometry.getGeometryType());
        }
    }

    private LinearRing toRing(Ring ring) {
        int n = ring.getXyCount();
        if (n % 2 != 0)
            throw new IllegalArgumentException("ring has an odd number of coordinates: " + n);
        List<Coordinate> coords = new ArrayList<>(n / 2 + 1);
        for (int i = 0; i < n; i += 2) {
            double x = ring.getXy(i);
            double y = ring.getXy(i + 1);
            if (!Double.isFinite(x) || !Double.isFinite(y))
                throw new IllegalArgumentException("non-finite ring coordinate (" + x + ", " + y + ")");
            Coordinate c = new Coordinate(x, y);
            // Drop repeated vertices, including a closing vertex a writer may have sent anyway.
            if (coords.isEmpty() || !coords.get(coords.size() - 1).equals2D(c))
                coords.add(c);
        }
        if (coords.size() > 1 && coords.get(0).equals2D(coords.get(coords.size() - 1)))
            coords.remove(coords.size() - 1);
        if (coords.size() < 3)
            return null;
        coords.add(new Coordinate(coords.get(0)));
        return factory.createLinearRing(coords.toArray(Coordinate[]::new));
    }

    private static Ring toRing(org.locationtech.jts.geom.LineString ring) {
        Coordinate[] coords = ring.getCoordinates();
        int n = coords.length;
        if (n > 1 && coords[0].equals2D(coords[n - 1]))
            n--;
        Ring.Builder builder = Ring.newBuilder();
        for (int i = 0; i < n; i++)
            builder.addXy(coords[i].x).addXy(coords[i].y);
        return builder.build();
    }
}
