package io.github.pathosam.client;

import io.github.pathosam.grpc.v1.ModelInfo;
import io.github.pathosam.grpc.v1.ServerInfo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.condition.DisabledIfSystemProperty;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.locationtech.jts.geom.Geometry;
import org.locationtech.jts.geom.Point;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Java client against the real Python server (started here on a free port) and the project's
 * synthetic H&E-like image. Quality assertions need the trained tiny model; on the random-weights
 * stand-in (or with {@code -Dpathosam.quality=false}) only the plumbing is checked.
 */
@Tag("live")
@DisabledIfSystemProperty(named = "pathosam.live", matches = "false")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LiveServerTest {

    /** Off-origin, non-square region: 2 x 2 tiles of 384 + 64 px at downsample 1 (CPU time is dear). */
    static final PixelRect REGION = new PixelRect(150, 90, 700, 500);
    /** Off-origin, non-square region: 2 x 1 tiles at downsample 2. */
    static final PixelRect REGION_D2 = new PixelRect(100, 60, 1100, 700);

    private Path dir;
    private PythonServer server;
    private SyntheticSlide slide;
    private ModelInfo model;

    @BeforeAll
    void start() throws Exception {
        dir = Files.createTempDirectory("pathosam-live-");
        server = PythonServer.start();
        slide = SyntheticSlide.create(dir, 7, 1280, 1024);
        try (PathoSamClient client = PathoSamClient.connect(server.options().build())) {
            ServerInfo info = client.getInfo();
            model = info.getModelsList().stream().filter(ModelInfo::getIsDefault).findFirst()
                    .orElse(info.getModels(0));
        }
    }

    @AfterAll
    void stop() throws IOException {
        if (server != null)
            server.close();
        if (dir != null)
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
    }

    /** Options with the model's own tile size and halo, as the Python planner uses them. */
    private ClientOptions.Builder options() {
        return server.options().tileSize(model.getDefaultTileSize()).halo(model.getDefaultHalo());
    }

    /** Quality needs the trained model: never on random weights, and never when told not to. */
    static boolean checkQuality() {
        return !PythonServer.isRandomModel() && !"false".equals(System.getProperty("pathosam.quality"));
    }

    @Test
    void healthAndInfo() {
        try (PathoSamClient client = PathoSamClient.connect(options().build())) {
            client.checkHealth();
            ServerInfo info = client.getInfo();
            assertFalse(info.getServerVersion().isEmpty());
            assertEquals("cpu", info.getDevice());
            assertTrue(model.getDefaultTileSize() > 0, model.toString());
            assertTrue(info.getLimits().getMaxTileSize() >= model.getDefaultTileSize() + 2 * model.getDefaultHalo());
        }
    }

    /** The plan a QuPath run makes: the server's default model, its tiles, its resolution on this scan. */
    @Test
    void runPlanFromTheLiveServer() {
        DetectionSettings settings = DetectionSettings.builder().server("127.0.0.1:" + server.port()).build();
        RunPlan plan = RunPlan.fetch(settings, null, model.getWorkingPixelSizeUm() / 2);
        assertEquals(model.getName(), plan.model().getName());
        assertEquals(model.getName(), plan.options().model());
        assertEquals(model.getDefaultTileSize(), plan.tileSize());
        assertEquals(model.getDefaultHalo(), plan.halo());
        assertEquals(model.getWorkingPixelSizeUm() > 0 ? 2.0 : 1.0, plan.downsample(), 1e-12);
        assertEquals("cpu", plan.server().getDevice());
    }

    /** One region stream and what it delivered. */
    private record Streamed(List<PlannedTile> tiles, CollectingListener listener, RegionSummary summary) {
    }

    private Streamed fullResolution;

    /**
     * Streams a region once. Tiles cost 10-40 s each on a CPU, so the downsample-1 stream is shared
     * by the ownership test and the reference comparison (hence simplify 0, as the reference uses).
     */
    private Streamed stream(double downsample) {
        if (downsample == 1 && fullResolution != null)
            return fullResolution;
        CollectingListener listener = new CollectingListener();
        try (PathoSamClient client = PathoSamClient.connect(
                options().downsample(downsample).simplifyTolerance(0.0).build())) {
            RegionCall call = client.newRegionCall(downsample == 1 ? REGION : REGION_D2, slide.source(), listener);
            Streamed result = new Streamed(call.tiles(), listener, call.run());
            if (downsample == 1)
                fullResolution = result;
            return result;
        }
    }

    @ParameterizedTest(name = "downsample {0}")
    @ValueSource(doubles = {1.0, 2.0})
    void regionStreamReturnsEachNucleusOnceAtItsLevel0Place(double downsample) {
        PixelRect region = downsample == 1 ? REGION : REGION_D2;
        Streamed streamed = stream(downsample);
        CollectingListener listener = streamed.listener();
        RegionSummary summary = streamed.summary();
        List<PlannedTile> tiles = streamed.tiles();
        List<NucleusResult> nuclei = listener.results();
        // Stream bookkeeping.
        assertEquals(List.of(summary), listener.summaries);
        assertEquals(tiles.size(), summary.tiles());
        assertEquals(tiles.size(), listener.progress.size());
        assertEquals(nuclei.size(), summary.nuclei());
        assertEquals(1.0, summary.coreCoverage(), 1e-9);
        assertEquals(downsample == 1 ? 4 : 2, tiles.size(), "the region must span 2 x 2 (d 1) or 2 x 1 (d 2) tiles");

        Set<Long> ids = new HashSet<>();
        for (CollectingListener.Owned owned : listener.nuclei) {
            NucleusResult n = owned.nucleus();
            assertTrue(ids.add(n.id()), "duplicate id " + n.id());
            PlannedTile tile = tiles.get((int) owned.tileIndex());
            // Ownership rule: the centroid lies in the core of the tile that returned it.
            assertTrue(tile.core().contains(n.centroidX(), n.centroidY()),
                    "nucleus " + n.id() + " at (" + n.centroidX() + ", " + n.centroidY() + ") outside core " + tile.core());
            // Geometry in level-0 pixels, consistent with the reported centroid and area, inside its tile.
            Point c = n.geometry().getCentroid();
            assertEquals(n.centroidX(), c.getX(), 2.0 * downsample, "centroid x of " + n.id());
            assertEquals(n.centroidY(), c.getY(), 2.0 * downsample, "centroid y of " + n.id());
            assertEquals(n.area(), n.geometry().getArea(), 0.25 * n.area() + 4 * downsample * downsample);
            var env = n.geometry().getEnvelopeInternal();
            assertTrue(env.getMinX() >= tile.region().x() - 1 && env.getMaxX() <= tile.region().maxX() + 1
                    && env.getMinY() >= tile.region().y() - 1 && env.getMaxY() <= tile.region().maxY() + 1,
                    "nucleus " + n.id() + " " + env + " outside its tile " + tile.region());
        }
        Matching.assertNoDuplicates(nuclei);
        if (checkQuality()) {
            Matching.Score score = Matching.againstTruth(nuclei, slide.nuclei(), region, 6.0 * downsample,
                    40.0 * downsample * downsample);
            assertTrue(score.recall() >= (downsample == 1 ? 0.8 : 0.6), "recall " + score);
            assertTrue(score.precision() >= (downsample == 1 ? 0.8 : 0.6), "precision " + score);
        }
    }

    @Test
    void sameNucleiAsThePythonReference() throws Exception {
        Path geojson = dir.resolve("reference.geojson");
        List<String> command = new java.util.ArrayList<>(List.of("-m", "pathosam_server", "segment", slide.png().toString(),
                "-o", geojson.toString(), "--region", Integer.toString(REGION.x()), Integer.toString(REGION.y()),
                Integer.toString(REGION.width()), Integer.toString(REGION.height()),
                "--tile-size", Integer.toString(model.getDefaultTileSize()), "--halo", Integer.toString(model.getDefaultHalo()),
                "--simplify", "0", "--device", "cpu", "-q"));
        command.addAll(PythonServer.modelArgs());
        PythonServer.runPython(Duration.ofSeconds(300), command.toArray(String[]::new));
        List<Geometry> reference = GeoJson.readGeometries(geojson);
        List<Geometry> streamed = stream(1.0).listener().results().stream().map(NucleusResult::geometry).toList();
        assertEquals(reference.size(), streamed.size(), "nucleus count, Java stream vs Python reference");
        Matching.assertSameGeometries(reference, streamed, 0.9, 0.98);
    }

    @Test
    void cancellationEndsTheCallPromptlyAndTheServerStops() throws Exception {
        CollectingListener listener = new CollectingListener();
        try (PathoSamClient client = PathoSamClient.connect(options().build())) {
            RegionCall call = client.newRegionCall(new PixelRect(0, 0, 1280, 1024), slide.source(), listener);
            CompletableFuture<RegionSummary> running = CompletableFuture.supplyAsync(call::run);
            listener.awaitFirstTile(running);
            double tileSeconds = listener.progress.get(0).seconds();
            long t0 = System.nanoTime();
            call.cancel();
            ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                    () -> running.get(5, TimeUnit.SECONDS));
            assertInstanceOf(CancellationException.class, e.getCause());
            assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(5));
            assertTrue(listener.summaries.isEmpty(), "no summary after a cancel");
            assertTrue(listener.progress.size() < call.tiles().size(), "the stream ended early");
            // The server stops working: it may finish the tile it is on (torch cannot be interrupted),
            // then its CPU goes idle, long before the remaining tiles could have been done.
            int remaining = call.tiles().size() - listener.progress.size();
            assertTrue(remaining >= 6, "remaining tiles " + remaining);
            double allowed = 2 * tileSeconds + 10;
            assertTrue(allowed < remaining * tileSeconds, "the check would not tell stopping from finishing");
            ProcessCpu.assertGoesIdle(server.process(), Duration.ofMillis((long) (allowed * 1000)));
            // ...and it still serves.
            client.checkHealth();
            assertTrue(client.getInfo().getModelsCount() > 0);
        }
    }

    @Test
    void singleTileCall() {
        PixelRect small = new PixelRect(300, 200, 256, 192);
        try (PathoSamClient client = PathoSamClient.connect(options().build())) {
            TileResult result = client.segmentTile(small, slide.source());
            assertEquals(result.nuclei().size(), result.summary().nuclei());
            for (NucleusResult n : result.nuclei())
                assertTrue(small.contains(n.centroidX(), n.centroidY()), n.toString());
        }
    }

    /** Cells and QuPath-named measurements come back through the Java client, whole and in µm. */
    @Test
    void cellsAndMeasurementsFromTheServer() {
        PixelRect small = new PixelRect(300, 200, 256, 192);
        AnalysisOptions analysis = new AnalysisOptions(true, true, 3, 0, 0.5);
        try (PathoSamClient client = PathoSamClient.connect(options().analysis(analysis).build())) {
            TileResult result = client.segmentTile(small, slide.source());
            if (!PythonServer.isRandomModel())
                assertFalse(result.nuclei().isEmpty(), "the trained model finds nuclei in the synthetic slide");
            for (NucleusResult n : result.nuclei()) {
                assertTrue(n.isCell(), n.toString());
                assertTrue(n.cellGeometry().buffer(1e-6).covers(n.geometry().buffer(-0.6)), "the cell holds its nucleus");
                Map<String, Double> m = n.measurements();
                assertEquals(n.cellGeometry().getArea() * 0.25, m.get("Cell: Area µm^2"), 1e-6);
                assertTrue(m.containsKey("Nucleus: Hematoxylin: Mean") && m.containsKey("Nucleus/Cell area ratio"), m.toString());
                assertEquals(List.copyOf(new java.util.TreeSet<>(m.keySet())), List.copyOf(m.keySet()), "a stable column order");
                checkShapeAgainstJts(n.geometry(), m, "Nucleus: ", 0.5);
                checkShapeAgainstJts(n.cellGeometry(), m, "Cell: ", 0.5);
            }
        }
    }

    /**
     * The server's shape figures against JTS on the same outline: JTS is what QuPath's
     * ObjectMeasurements measures ROIs with (MinimumBoundingCircle, MinimumDiameter, convex hull).
     */
    private static void checkShapeAgainstJts(Geometry g, Map<String, Double> m, String prefix, double um) {
        String where = prefix + g.getArea();
        assertEquals(g.getArea() * um * um, m.get(prefix + "Area µm^2"), 1e-9 * g.getArea(), where);
        assertEquals(g.getLength() * um, m.get(prefix + "Length µm"), 1e-9 * g.getLength(), where);
        assertEquals(g.getArea() / g.convexHull().getArea(), m.get(prefix + "Solidity"), 1e-9, where);
        double maxDiameter = 2 * new org.locationtech.jts.algorithm.MinimumBoundingCircle(g).getRadius() * um;
        assertEquals(maxDiameter, m.get(prefix + "Max diameter µm"), 1e-6 * maxDiameter, where);
        double minDiameter = new org.locationtech.jts.algorithm.MinimumDiameter(g).getLength() * um;
        assertEquals(minDiameter, m.get(prefix + "Min diameter µm"), 1e-6 * minDiameter, where);
        if (g instanceof org.locationtech.jts.geom.Polygon p) {
            Geometry outer = g.getFactory().createPolygon(p.getExteriorRing().getCoordinates());
            double circularity = 4 * Math.PI * outer.getArea() / (outer.getLength() * outer.getLength());
            assertEquals(circularity, m.get(prefix + "Circularity"), 1e-9, where);
        }
    }

    @Test
    void promptIsAnsweredAndReusesTheEmbedding() {
        try (PathoSamClient client = PathoSamClient.connect(options().build())) {
            SyntheticSlide.Truth t = slide.nuclei().get(slide.nuclei().size() / 2);
            int x0 = (int) Math.max(0, Math.min(1280 - 512, t.cx() - 256));
            int y0 = (int) Math.max(0, Math.min(1024 - 512, t.cy() - 256));
            PixelRect window = new PixelRect(x0, y0, 512, 512);
            {
                PromptResult first = client.prompt(window, slide.source(), List.of(PromptInput.point(t.cx(), t.cy())));
                assertEquals(1, first.nuclei().size());
                assertEquals(64, first.digest().length());
                // The second prompt in the same window sends only the digest; the server reuses the embedding.
                PromptResult second = client.prompt(window, slide.source(),
                        List.of(PromptInput.box(new PixelRect((int) t.cx() - 12, (int) t.cy() - 12, 24, 24))));
                assertEquals(first.digest(), second.digest());
                assertTrue(second.embeddingCached(), "embedding reused");
                assertEquals(1, second.nuclei().size());
            }
        }
    }
}
