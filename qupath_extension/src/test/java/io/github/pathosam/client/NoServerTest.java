package io.github.pathosam.client;

import org.junit.jupiter.api.Test;

import java.awt.image.BufferedImage;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Nothing listens on the port: every call fails fast with the same clear message. */
class NoServerTest {

    private final int port = PythonServer.freePort();
    private final ClientOptions options = ClientOptions.builder().port(port).build();
    private final String expected = "no PathoSAM server at 127.0.0.1:" + port + " — start one with `pathosam serve`";

    @Test
    void healthCheckSaysHowToStartOne() {
        try (PathoSamClient client = PathoSamClient.connect(options)) {
            ServerUnavailableException e = assertThrows(ServerUnavailableException.class, client::checkHealth);
            assertEquals(expected, e.getMessage());
            assertEquals("UNAVAILABLE", e.statusCode());
        }
    }

    @Test
    void unaryCallsFailAfterBoundedRetries() {
        try (PathoSamClient client = PathoSamClient.connect(options)) {
            ServerUnavailableException e = assertTimeoutPreemptively(Duration.ofSeconds(15),
                    () -> assertThrows(ServerUnavailableException.class, client::getInfo));
            assertEquals(expected, e.getMessage());
        }
    }

    @Test
    void regionStreamFailsInsteadOfHanging() {
        TileSource source = new BufferedImageTileSource(new BufferedImage(900, 700, BufferedImage.TYPE_INT_RGB));
        try (PathoSamClient client = PathoSamClient.connect(options)) {
            ServerUnavailableException e = assertTimeoutPreemptively(Duration.ofSeconds(15),
                    () -> assertThrows(ServerUnavailableException.class,
                            () -> client.segmentRegion(new PixelRect(0, 0, 900, 700), source, new RegionListener() { })));
            assertEquals(expected, e.getMessage());
        }
    }

    @Test
    void aPoolOfDeadServersFailsFastAndNamesThemAll() throws Exception {
        int other;
        try (java.net.ServerSocket socket = new java.net.ServerSocket(0)) {
            other = socket.getLocalPort();
        }
        ClientOptions pool = options.toBuilder().servers(options.address() + ", 127.0.0.1:" + other).build();
        TileSource source = new BufferedImageTileSource(new BufferedImage(900, 700, BufferedImage.TYPE_INT_RGB));
        try (PathoSamClient client = PathoSamClient.connect(pool)) {
            ServerUnavailableException e = assertThrows(ServerUnavailableException.class, client::checkHealth);
            assertEquals(Errors.noServer(pool.address()), e.getMessage());
            ServerUnavailableException s = assertTimeoutPreemptively(Duration.ofSeconds(15),
                    () -> assertThrows(ServerUnavailableException.class,
                            () -> client.segmentRegion(new PixelRect(0, 0, 900, 700), source, new RegionListener() { })));
            assertTrue(s.getMessage().contains(pool.address()), s.getMessage());
        }
    }
}
