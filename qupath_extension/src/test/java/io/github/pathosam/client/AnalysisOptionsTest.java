package io.github.pathosam.client;

import io.github.pathosam.grpc.v1.ClassInfo;
import io.github.pathosam.grpc.v1.ModelInfo;
import io.github.pathosam.grpc.v1.SegmentParams;
import io.github.pathosam.grpc.v1.ServerInfo;
import io.github.pathosam.grpc.v1.WeightsFile;
import org.junit.jupiter.api.Test;
import org.locationtech.jts.geom.Coordinate;
import org.locationtech.jts.geom.Geometry;
import org.locationtech.jts.geom.GeometryFactory;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Measurements and cells: the builder's options, what goes on the wire, the halo cells need, provenance. */
class AnalysisOptionsTest {

    private static final ServerInfo INFO = ServerInfo.newBuilder()
            .addModels(ModelInfo.newBuilder().setName("vit_b_histopathology").setIsDefault(true)
                    .setWorkingPixelSizeUm(0.25).setDefaultTileSize(384).setDefaultHalo(64).setInputEdge(512)
                    .setPrecision("bfloat16").setClassPrecision("bfloat16").setHasSemanticDecoder(true)
                    .addClasses(ClassInfo.newBuilder().setId(1).setName("Neoplastic").setRgb(0xFF0000))
                    .addWeights(WeightsFile.newBuilder().setRole("checkpoint").setName("vit_b.pt").setSha256("ab12")))
            .build();

    @Test
    void builderOptionsReachTheWireAndTheScript() {
        DetectionSettings s = DetectionSettings.builder().measurements("shape, intensity").cellExpansion(5)
                .cellConstrainScale(1.5).build();
        assertEquals(Map.of("server", "127.0.0.1:50051", "measurements", "all", "cellExpansion", 5.0,
                "cellConstrainScale", 1.5), s.toMap());
        String script = s.toScript("PathoSam.builder()");
        assertTrue(script.contains(".measurements('all')") && script.contains(".cellExpansion(5.0)"), script);

        SegmentParams wire = Protos.params(s.toClientOptions(2.0, 384, 64).toBuilder()
                .analysis(s.analysis().withPixelSize(0.5)).build());
        assertTrue(wire.getMeasureShape() && wire.getMeasureIntensity());
        assertEquals(5.0, wire.getCellExpansion());
        assertEquals(1.5, wire.getCellConstrainScale());
        assertEquals(0.5, wire.getPixelSizeUm());

        SegmentParams plain = Protos.params(DetectionSettings.builder().build().toClientOptions(1, 384, 64));
        assertFalse(plain.hasMeasureShape() || plain.hasCellExpansion() || plain.hasPixelSizeUm(),
                "an older server sees the request it always saw");
        assertEquals(DetectionSettings.builder().measureShape().build().toMap().get("measurements"), "shape");
    }

    @Test
    void badValuesNameTheOption() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> DetectionSettings.builder().measurements("shape,size").build());
        assertTrue(e.getMessage().contains("'size'"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> DetectionSettings.builder().cellExpansion(-1).build());
        assertTrue(e.getMessage().startsWith("cellExpansion"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> DetectionSettings.builder().cellConstrainScale(0.5).build());
        assertTrue(e.getMessage().startsWith("cellConstrainScale"), e.getMessage());
        assertEquals(0.0, new AnalysisOptions(true, false, 0, 0, Double.NaN).pixelSizeUm(), "NaN: uncalibrated");
    }

    @Test
    void theHaloIsWidenedToTwiceTheExpansion() {
        // 10 µm at 0.5 µm/px = 20 level-0 px; downsample 0.5 makes 40 working px, so 80 px of halo
        AnalysisOptions a = new AnalysisOptions(false, false, 10, 0, 0.5);
        assertEquals(80, a.haloNeeded(0.5));
        assertEquals(0, AnalysisOptions.NONE.haloNeeded(1));
        assertEquals(6, new AnalysisOptions(false, false, 3, 0, 0).haloNeeded(1), "uncalibrated: level-0 px");

        RunPlan plan = RunPlan.of(DetectionSettings.builder().cellExpansion(10).build(), null, INFO, 0.5);
        assertEquals(0.5, plan.downsample(), 1e-12);
        assertEquals(80, plan.halo());
        assertEquals(352, plan.tileSize(), "384 + 2 x 80 > 512: the core shrinks so that the window still fits");
    }

    @Test
    void provenanceNamesTheWeightsPrecisionAndAnalysis() {
        RunPlan plan = RunPlan.of(DetectionSettings.builder().measureIntensity().cellExpansion(4).build(), null, INFO, 0.25);
        Map<String, Object> p = plan.provenance();
        assertEquals("vit_b.pt ab12", p.get("sha256 checkpoint"));
        assertEquals("bfloat16 (classes bfloat16)", p.get("precision"));
        assertEquals("intensity (H&E default)", p.get("measurements"));
        assertEquals("4.0 µm", p.get("cell expansion"));
    }

    @Test
    void serverMeasurementsFollowTheScoreAndCellsKeepTheirNucleus() {
        GeometryFactory f = new GeometryFactory();
        Geometry nucleus = f.createPoint(new Coordinate(10, 10)).buffer(3);
        Geometry cell = f.createPoint(new Coordinate(10, 10)).buffer(6);
        NucleusResult n = new NucleusResult(1, nucleus, "Neoplastic", 1, 0.8, 0.9, nucleus.getArea(), 10, 10,
                Map.of("Nucleus: Area µm^2", 7.0, "Cytoplasm: Eosin: Mean", Double.NaN), cell);
        assertTrue(n.isCell());
        assertEquals(List.of(NucleusMeasurements.SCORE, NucleusMeasurements.CLASS_PROBABILITY, "Nucleus: Area µm^2"),
                List.copyOf(NucleusMeasurements.of(n).keySet()), "NaN (no pixels) is left out, as QuPath leaves it");

        // an annotation boundary through the nucleus cuts the cell too, and the whole-nucleus figures go
        Geometry region = f.toGeometry(new org.locationtech.jts.geom.Envelope(0, 11, 0, 30));
        NucleusResult cut = new RegionClipper(region).clip(List.of(n)).get(0);
        assertTrue(cut.geometry().getArea() < nucleus.getArea() && cut.cellGeometry().getArea() < cell.getArea());
        assertTrue(cut.measurements().isEmpty());
    }
}
