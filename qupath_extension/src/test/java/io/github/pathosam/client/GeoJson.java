package io.github.pathosam.client;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.locationtech.jts.geom.Coordinate;
import org.locationtech.jts.geom.Geometry;
import org.locationtech.jts.geom.GeometryFactory;
import org.locationtech.jts.geom.LinearRing;
import org.locationtech.jts.geom.Polygon;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Reads the polygons of a GeoJSON FeatureCollection (as `pathosam segment` writes it) for comparisons. */
final class GeoJson {

    private static final GeometryFactory FACTORY = new GeometryFactory();

    private GeoJson() {
    }

    static List<Geometry> readGeometries(Path file) throws IOException {
        JsonObject root = JsonParser.parseString(Files.readString(file)).getAsJsonObject();
        List<Geometry> result = new ArrayList<>();
        for (JsonElement feature : root.getAsJsonArray("features")) {
            JsonObject geometry = feature.getAsJsonObject().getAsJsonObject("geometry");
            JsonArray coords = geometry.getAsJsonArray("coordinates");
            switch (geometry.get("type").getAsString()) {
                case "Polygon" -> result.add(polygon(coords));
                case "MultiPolygon" -> {
                    List<Polygon> parts = new ArrayList<>();
                    for (JsonElement p : coords)
                        parts.add(polygon(p.getAsJsonArray()));
                    result.add(FACTORY.createMultiPolygon(parts.toArray(Polygon[]::new)));
                }
                default -> throw new IOException("unexpected geometry type " + geometry.get("type"));
            }
        }
        return result;
    }

    private static Polygon polygon(JsonArray rings) {
        LinearRing shell = ring(rings.get(0).getAsJsonArray());
        LinearRing[] holes = new LinearRing[rings.size() - 1];
        for (int i = 1; i < rings.size(); i++)
            holes[i - 1] = ring(rings.get(i).getAsJsonArray());
        return FACTORY.createPolygon(shell, holes);
    }

    private static LinearRing ring(JsonArray points) {
        Coordinate[] coords = new Coordinate[points.size()];
        for (int i = 0; i < points.size(); i++) {
            JsonArray p = points.get(i).getAsJsonArray();
            coords[i] = new Coordinate(p.get(0).getAsDouble(), p.get(1).getAsDouble());
        }
        return FACTORY.createLinearRing(coords);
    }
}
