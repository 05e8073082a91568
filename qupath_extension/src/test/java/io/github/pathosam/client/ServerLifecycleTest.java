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

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A server that requires a token, and then dies mid-stream. */
@Tag("live")
@DisabledIfSystemProperty(named = "pathosam.live", matches = "false")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ServerLifecycleTest {

    private static final String TOKEN = "t0ken-for-tests";

    private PythonServer server;
    private SyntheticSlide slide;
    private Path dir;

    @BeforeAll
    void start() throws Exception {
        dir = Files.createTempDirectory("pathosam-lifecycle-");
        server = PythonServer.start("--token", TOKEN);
        slide = SyntheticSlide.create(dir, 11, 1280, 1024);
    }

    @AfterAll
    void stop() {
        if (server != null)
            server.close();
        if (slide != null)
            slide.png().toFile().delete();
    }

    @Test
    @Order(1)
    void tokenIsSentAndRequired() {
        try (PathoSamClient anonymous = PathoSamClient.connect(server.options().build())) {
            anonymous.checkHealth(); // health stays open for load balancers
            PathoSamException e = assertThrows(PathoSamException.class, anonymous::getInfo);
            assertEquals("UNAUTHENTICATED", e.statusCode());
            assertTrue(e.getMessage().contains("refused the token"), e.getMessage());
        }
        try (PathoSamClient client = PathoSamClient.connect(server.options().token(TOKEN).build())) {
            assertTrue(client.getInfo().getModelsCount() > 0);
        }
    }

    @Test
    @Order(2)
    void serverKilledMidStreamEndsTheCallWithAnError() throws Exception {
        CollectingListener listener = new CollectingListener();
        try (PathoSamClient client = PathoSamClient.connect(server.options().token(TOKEN).build())) {
            RegionCall call = client.newRegionCall(new PixelRect(0, 0, 1280, 1024), slide.source(), listener);
            CompletableFuture<RegionSummary> running = CompletableFuture.supplyAsync(call::run);
            listener.awaitFirstTile(running);
            long t0 = System.nanoTime();
            server.kill();
            ExecutionException e = assertThrows(ExecutionException.class, () -> running.get(10, TimeUnit.SECONDS));
            double seconds = (System.nanoTime() - t0) / 1e9;
            assertInstanceOf(ServerUnavailableException.class, e.getCause(), String.valueOf(e.getCause()));
            assertTrue(e.getCause().getMessage().contains("lost the connection"), e.getCause().getMessage());
            assertTrue(seconds < 5, "took " + seconds + " s to notice");
            assertTrue(listener.summaries.isEmpty());
        }
    }
}
