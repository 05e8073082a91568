package io.github.pathosam.client;

import io.github.pathosam.grpc.v1.Nucleus;
import io.github.pathosam.grpc.v1.Polygon;
import io.github.pathosam.grpc.v1.Ring;
import org.junit.jupiter.api.Test;
import org.locationtech.jts.geom.Coordinate;
import org.locationtech.jts.geom.Geometry;
import org.locationtech.jts.geom.GeometryFactory;
import org.locationtech.jts.geom.MultiPolygon;
import org.locationtech.jts.io.WKTReader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GeometryConverterTest {

    private final GeometryConverter converter = new GeometryConverter();

    private static Ring ring(double... xy) {
        Ring.Builder b = Ring.newBuilder();
        for (double v : xy)
            b.addXy(v);
        return b.build();
    }

    @Test
    void polygonWithHoleKeepsLevel0CoordinatesAndTheHole() {
        // Off-origin, non-square: x and y must not swap.
        io.github.pathosam.grpc.v1.Geometry wire = io.github.pathosam.grpc.v1.Geometry.newBuilder()
                .addPolygons(Polygon.newBuilder()
                        .setExterior(ring(1000, 2000, 1040, 2000, 1040, 2010, 1000, 2010))
                        .addHoles(ring(1010, 2002, 1010, 2006, 1020, 2006, 1020, 2002)))
                .build();
        Geometry g = converter.toJts(wire);
        assertInstanceOf(org.locationtech.jts.geom.Polygon.class, g);
        assertTrue(g.isValid());
        assertEquals(40 * 10 - 10 * 4, g.getArea(), 1e-9);
        assertEquals(1, ((org.locationtech.jts.geom.Polygon) g).getNumInteriorRing());
        assertEquals(new Coordinate(1020, 2005), g.getEnvelopeInternal().centre());
        assertEquals(1000, g.getEnvelopeInternal().getMinX());
        assertEquals(2010, g.getEnvelopeInternal().getMaxY());
    }

    @Test
    void severalPartsBecomeAMultiPolygon() {
        io.github.pathosam.grpc.v1.Geometry wire = io.github.pathosam.grpc.v1.Geometry.newBuilder()
                .addPolygons(Polygon.newBuilder().setExterior(ring(0, 0, 4, 0, 4, 4, 0, 4)))
                .addPolygons(Polygon.newBuilder().setExterior(ring(10, 10, 12, 10, 12, 13)))
                .build();
        Geometry g = converter.toJts(wire);
        assertInstanceOf(MultiPolygon.class, g);
        assertEquals(2, g.getNumGeometries());
        assertEquals(16 + 3, g.getArea(), 1e-9);
    }

    @Test
    void degenerateRingsAndRepeatedClosingVertexAreHandled() {
        io.github.pathosam.grpc.v1.Geometry wire = io.github.pathosam.grpc.v1.Geometry.newBuilder()
                .addPolygons(Polygon.newBuilder().setExterior(ring(0, 0, 4, 0, 4, 4, 0, 4, 0, 0))
                        .addHoles(ring(1, 1, 2, 2)))                         // degenerate hole: dropped
                .addPolygons(Polygon.newBuilder().setExterior(ring(9, 9, 9, 9))) // degenerate part: dropped
                .build();
        Geometry g = converter.toJts(wire);
        assertInstanceOf(org.locationtech.jts.geom.Polygon.class, g);
        assertEquals(5, g.getNumPoints());
        assertEquals(16, g.getArea(), 1e-9);
        assertTrue(converter.toJts(io.github.pathosam.grpc.v1.Geometry.getDefaultInstance()).isEmpty());
        assertThrows(IllegalArgumentException.class, () -> converter.toJts(io.github.pathosam.grpc.v1.Geometry.newBuilder()
                .addPolygons(Polygon.newBuilder().setExterior(ring(0, 0, 1, 0, 1))).build()));
        assertThrows(IllegalArgumentException.class, () -> converter.toJts(io.github.pathosam.grpc.v1.Geometry.newBuilder()
                .addPolygons(Polygon.newBuilder().setExterior(ring(0, 0, 1, Double.NaN, 1, 1))).build()));
    }

    @Test
    void roundTripThroughTheWire() throws Exception {
        GeometryFactory factory = new GeometryFactory();
        Geometry original = new WKTReader(factory).read(
                "MULTIPOLYGON (((100 50, 180 50, 180 90, 100 90, 100 50), (120 60, 120 80, 140 80, 140 60, 120 60)),"
                        + " ((300.5 10.25, 310 10.25, 305 20.75, 300.5 10.25)))");
        io.github.pathosam.grpc.v1.Geometry wire = converter.toProto(original);
        assertEquals(2, wire.getPolygonsCount());
        assertEquals(8, wire.getPolygons(0).getExterior().getXyCount(), "closing vertex is not repeated");
        assertEquals(1, wire.getPolygons(0).getHolesCount());
        Geometry back = converter.toJts(wire);
        assertTrue(back.equalsExact(original), back.toText());
        assertThrows(IllegalArgumentException.class,
                () -> converter.toProto(factory.createPoint(new Coordinate(1, 2))));
    }

    @Test
    void nucleusFieldsAreCopied() {
        Nucleus n = Nucleus.newBuilder()
                .setId(42).setScore(0.9f).setClassId(2).setClassName("Inflammatory").setClassProbability(0.75f)
                .setArea(123.5).setCentroidX(1001.5).setCentroidY(2002.5)
                .setGeometry(io.github.pathosam.grpc.v1.Geometry.newBuilder()
                        .addPolygons(Polygon.newBuilder().setExterior(ring(1000, 2000, 1003, 2000, 1003, 2005))))
                .build();
        NucleusResult r = converter.toResult(n);
        assertEquals(42, r.id());
        assertEquals("Inflammatory", r.className());
        assertEquals(2, r.classId());
        assertEquals(0.75, r.classProbability(), 1e-6);
        assertEquals(0.9, r.score(), 1e-6);
        assertEquals(123.5, r.area());
        assertEquals(1001.5, r.centroidX());
        assertEquals(2002.5, r.centroidY());
        assertTrue(r.isClassified());
        assertEquals(7.5, r.geometry().getArea(), 1e-9);
    }
}
