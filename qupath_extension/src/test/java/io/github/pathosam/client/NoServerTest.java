package io.github.pathosam.client;

import org.junit.jupiter.api.Test;

import java.awt.image.BufferedImage;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

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
}
