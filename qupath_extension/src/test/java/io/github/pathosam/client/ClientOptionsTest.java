package io.github.pathosam.client;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ClientOptionsTest {

    @Test
    void defaults() {
        ClientOptions o = ClientOptions.builder().build();
        assertEquals("127.0.0.1", o.host());
        assertEquals(ClientOptions.DEFAULT_PORT, o.port());
        assertFalse(o.tls());
        assertTrue(o.token().isEmpty());
        assertEquals(384, o.tileSize());
        assertEquals(64, o.halo());
        assertEquals(1.0, o.downsample());
        assertEquals(TileEncoding.RAW_RGB8, o.encoding());
        assertTrue(o.classify().isEmpty());
        assertTrue(o.simplifyTolerance().isEmpty());
        assertEquals("", o.model());
    }

    @Test
    void settersAndCopy() {
        ClientOptions o = ClientOptions.builder().host(" gpu-box ").port(6000).token("s3cret").model("vit_b_histopathology")
                .tileSize(256).halo(32).downsample(2).encoding(TileEncoding.PNG).classify(false)
                .simplifyTolerance(0.5).deadline(Duration.ofSeconds(9)).trustCertificates(Path.of("ca.pem")).build();
        assertEquals("gpu-box:6000", o.address());
        assertTrue(o.tls(), "a trust file implies TLS");
        assertEquals(o.toString(), o.toBuilder().build().toString());
        assertEquals(256, o.toBuilder().build().tileSize());
        assertFalse(o.toString().contains("s3cret"), "the token is never printed");
        assertEquals("[::1]:5", ClientOptions.builder().host("::1").port(5).build().address());
        assertTrue(ClientOptions.builder().token("  ").build().token().isEmpty());
    }

    @Test
    void invalidValuesAreNamed() {
        assertMessage("port", () -> ClientOptions.builder().port(0).build());
        assertMessage("port", () -> ClientOptions.builder().port(70000).build());
        assertMessage("host", () -> ClientOptions.builder().host("").build());
        assertMessage("host", () -> ClientOptions.builder().host("a b").build());
        assertMessage("token", () -> ClientOptions.builder().token("a\nb").build());
        assertMessage("deadline", () -> ClientOptions.builder().deadline(Duration.ZERO).build());
        assertMessage("tileSize", () -> ClientOptions.builder().tileSize(8).build());
        assertMessage("halo", () -> ClientOptions.builder().halo(-1).build());
        assertMessage("halo", () -> ClientOptions.builder().tileSize(64).halo(65).build());
        assertMessage("downsample", () -> ClientOptions.builder().downsample(0).build());
        assertMessage("downsample", () -> ClientOptions.builder().downsample(Double.POSITIVE_INFINITY).build());
        assertMessage("simplify", () -> ClientOptions.builder().simplifyTolerance(1.5).build());
        assertMessage("simplify", () -> ClientOptions.builder().simplifyTolerance(Double.NaN).build());
    }

    private static void assertMessage(String word, org.junit.jupiter.api.function.Executable build) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, build);
        assertTrue(e.getMessage().contains(word), e.getMessage());
    }
}
