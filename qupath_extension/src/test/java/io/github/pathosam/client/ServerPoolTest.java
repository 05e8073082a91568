package io.github.pathosam.client;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.condition.DisabledIfSystemProperty;
import org.locationtech.jts.geom.Geometry;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two real servers behind one pool client (gRPC's round robin over a typed list): a region whose
 * server is SIGKILLed mid-run still comes back whole, once, from the other server.
 */
@Tag("live")
@DisabledIfSystemProperty(named = "pathosam.live", matches = "false")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ServerPoolTest {

    // Four tiles: the kill comes after the first, the other three go to the second server.
    private static final PixelRect REGION = new PixelRect(0, 0, 700, 700);

    private PythonServer a;
    private PythonServer b;
    private SyntheticSlide slide;
    private List<Geometry> reference;

    @BeforeAll
    void start() throws Exception {
        Path dir = Files.createTempDirectory("pathosam-pool-");
        a = PythonServer.start();
        b = PythonServer.start();
        slide = SyntheticSlide.create(dir, 17, REGION.width(), REGION.height());
        CollectingListener listener = new CollectingListener();
        try (PathoSamClient one = PathoSamClient.connect(a.options().classify(false).build())) {
            one.segmentRegion(REGION, slide.source(), listener);
        }
        reference = listener.results().stream().map(NucleusResult::geometry).toList();
        assertFalse(reference.isEmpty(), "the reference run found no nuclei");
    }

    @AfterAll
    void stop() {
        for (PythonServer s : new PythonServer[]{a, b}) {
            if (s != null)
                s.close();
        }
        if (slide != null)
            slide.png().toFile().delete();
    }

    private ClientOptions pool(PythonServer first, PythonServer second) {
        return a.options().servers("127.0.0.1:" + first.port() + ", 127.0.0.1:" + second.port()).classify(false).build();
    }

    @Test
    @Order(1)
    void aRegionWhoseServerIsKilledMidRunComesBackWholeFromTheOther() throws Exception {
        CollectingListener listener = new CollectingListener();
        try (PathoSamClient client = PathoSamClient.connect(pool(a, b))) {
            client.checkHealth();
            RegionCall call = client.newRegionCall(REGION, slide.source(), listener);
            CompletableFuture<RegionSummary> running = CompletableFuture.supplyAsync(call::run);
            listener.awaitFirstTile(running);
            String victim = call.currentServer();
            PythonServer dead = victim.endsWith(":" + a.port()) ? a : b;
            assertTrue(victim.endsWith(":" + dead.port()), "the stream names its server: '" + victim + "'");
            dead.kill();
            RegionSummary summary = running.get(600, TimeUnit.SECONDS);

            assertEquals(4, call.tiles().size());
            assertEquals(1, call.resends());
            assertEquals(2, call.servers().size(), String.valueOf(call.servers()));
            assertNotEquals(call.servers().get(0), call.servers().get(1));
            List<NucleusResult> nuclei = listener.results();
            // Same nuclei as one server gives, each once.
            assertEquals(reference.size(), nuclei.size());
            Matching.assertNoDuplicates(nuclei);
            Matching.assertSameGeometries(reference, nuclei.stream().map(NucleusResult::geometry).toList(), 0.99, 1.0);
            assertEquals(nuclei.size(), summary.nuclei());
            assertEquals(call.tiles().size(), summary.tiles());
            assertEquals(1.0, summary.coreCoverage(), 1e-9);
            // Each tile reported done once, and progress never went backwards.
            assertEquals(call.tiles().size(), listener.progress.stream().mapToLong(TileProgress::tileIndex).distinct().count());
            assertEquals(call.tiles().size(), listener.progress.size());
            assertEquals(call.tiles().size(), listener.progress.get(listener.progress.size() - 1).tilesDone());
            assertEquals(List.of(summary), listener.summaries);
        }
    }

    @Test
    @Order(2)
    void aPoolWithADeadServerListedFirstStillServes() {
        PythonServer alive = a.process().isAlive() ? a : b;
        PythonServer dead = alive == a ? b : a;
        CollectingListener listener = new CollectingListener();
        try (PathoSamClient client = PathoSamClient.connect(pool(dead, alive))) {
            client.checkHealth();
            RegionSummary summary = client.segmentRegion(new PixelRect(0, 0, 300, 300), slide.source(), listener);
            assertEquals(listener.results().size(), summary.nuclei());
            assertTrue(client.getInfo().getModelsCount() > 0);
        }
        // A DNS target goes through grpc-java's own resolver and the same balancer and health checks.
        try (PathoSamClient client = PathoSamClient.connect(a.options().servers("dns:///localhost:" + alive.port()).build())) {
            client.checkHealth();
            assertTrue(client.getInfo().getModelsCount() > 0);
            assertEquals("dns:///localhost:" + alive.port(), client.options().address());
        }
    }
}
