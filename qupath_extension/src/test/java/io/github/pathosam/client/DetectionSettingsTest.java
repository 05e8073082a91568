package io.github.pathosam.client;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DetectionSettingsTest {

    @Test
    void aSelfSignedServerCertificateCanBeTrusted(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws java.io.IOException {
        java.nio.file.Path pem = java.nio.file.Files.writeString(dir.resolve("server.pem"), "-----BEGIN CERTIFICATE-----");
        DetectionSettings s = DetectionSettings.builder().server("gpu1:50051").trustCertificates(pem.toString()).build();
        ClientOptions options = s.connectionOptions();
        assertTrue(options.tls(), "trusting a certificate implies TLS");
        assertEquals(pem, options.trustCertificates().orElseThrow());
        assertEquals(pem.toString(), s.toMap().get("trustCertificates"));
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                () -> DetectionSettings.builder().trustCertificates(dir.resolve("nope.pem").toString()).build());
        assertTrue(missing.getMessage().contains("cannot read"), missing.getMessage());
    }

    @Test
    void aTileGridLargerThanTheModelWindowIsRefusedWithTheChoices() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> DetectionSettings.builder().tileSize(512).halo(64).build());
        assertTrue(e.getMessage().contains("exceeds the model's input window of 512 px"), e.getMessage());
        assertTrue(e.getMessage().contains("384 + 64"), e.getMessage());
        DetectionSettings.builder().tileSize(448).halo(32).build(); // 512: fits
    }

    @Test
    void defaultsFollowTheServerAndModel() {
        DetectionSettings s = DetectionSettings.builder().build();
        assertEquals(ServerTarget.of(new ServerAddress("127.0.0.1", 50051)), s.server());
        assertEquals("", s.model());
        assertTrue(s.tileSize().isEmpty() && s.halo().isEmpty() && s.classify().isEmpty());
        assertFalse(s.replace());
        assertEquals(512, s.resolveTileSize(512));
        assertEquals(384, s.resolveTileSize(0));
        assertEquals(64, s.resolveHalo(0, 384));
        assertEquals(32, s.resolveHalo(96, 32), "the halo never exceeds the tile");
        assertEquals(Map.of("server", "127.0.0.1:50051"), s.toMap());
    }

    @Test
    void resolutionComesFromTheModelUnlessFixed() {
        DetectionSettings byModel = DetectionSettings.builder().build();
        assertEquals(0.5, byModel.resolveDownsample(0.25, 0.5), 1e-12);
        assertEquals(1.0, byModel.resolveDownsample(0.25, Double.NaN), "uncalibrated: full resolution");
        assertEquals(1.0, byModel.resolveDownsample(0, 0.5), "model without a pixel size");
        DetectionSettings bySize = DetectionSettings.builder().pixelSize(0.5).build();
        assertEquals(2.0, bySize.resolveDownsample(0.25, 0.25), 1e-12);
        DetectionSettings fixed = DetectionSettings.builder().pixelSize(0.5).downsample(3).build();
        assertEquals(3.0, fixed.resolveDownsample(0.25, 0.25), "the later of pixelSize/downsample wins");
        assertTrue(fixed.pixelSizeUm().isEmpty());
    }

    @Test
    void clientOptionsCarryEverything() {
        DetectionSettings s = DetectionSettings.builder().server("gpu:6000").token(" t0k ").model("vit_b_histopathology")
                .encoding("PNG").classify(false).simplify(0).build();
        ClientOptions o = s.toClientOptions(0.5, 256, 32);
        assertEquals("gpu:6000", o.address());
        assertEquals("t0k", o.token().orElseThrow());
        assertEquals("vit_b_histopathology", o.model());
        assertEquals(256, o.tileSize());
        assertEquals(32, o.halo());
        assertEquals(0.5, o.downsample());
        assertSame(TileEncoding.PNG, o.encoding());
        assertEquals(false, o.classify().orElseThrow());
        assertEquals(0.0, o.simplifyTolerance().orElseThrow());
        assertEquals(1.0, s.connectionOptions().downsample());
    }

    @Test
    void scriptRebuildsEqualSettingsWithoutTheToken() {
        DetectionSettings s = DetectionSettings.builder().server("[::1]:7000").token("secret").model("it's $x")
                .tileSize(256).halo(48).pixelSize(0.5).encoding("png").simplify(0.25).classify(true).replace(true).build();
        String script = s.toScript("PathoSam.builder()");
        assertEquals("""
                PathoSam.builder()
                    .server('[::1]:7000')
                    .model('it\\'s $x')
                    .tileSize(256)
                    .halo(48)
                    .pixelSize(0.5)
                    .encoding('png')
                    .simplify(0.25)
                    .classify(true)
                    .replace(true)
                    .build()""", script);
        assertFalse(script.contains("secret"));
        assertFalse(s.toString().contains("secret"));
        assertEquals(List.of("server", "model", "tileSize", "halo", "pixelSize", "encoding", "simplify", "classify", "replace"),
                List.copyOf(s.toMap().keySet()));
    }

    @Test
    void groovyLiterals() {
        assertEquals("2.0", DetectionSettings.groovyLiteral(2.0));
        assertEquals("0.25", DetectionSettings.groovyLiteral(0.25));
        assertEquals("'a\\\\b'", DetectionSettings.groovyLiteral("a\\b"));
        assertEquals("'x\\ny'", DetectionSettings.groovyLiteral("x\ny"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"tileSize", "halo", "haloOverTile", "pixelSize", "pixelSizeNaN", "downsample", "simplify",
            "encoding", "server", "token"})
    void rejectsInvalidOptionsByName(String option) {
        Map<String, Consumer<DetectionSettingsBuilder<DetectionSettings>>> bad = Map.of(
                "tileSize", b -> b.tileSize(8),
                "halo", b -> b.halo(-1),
                "haloOverTile", b -> b.tileSize(64).halo(65),
                "pixelSize", b -> b.pixelSize(0),
                "pixelSizeNaN", b -> b.pixelSize(Double.NaN),
                "downsample", b -> b.downsample(0.001),
                "simplify", b -> b.simplify(1.5),
                "encoding", b -> b.encoding("jpeg"),
                "server", b -> b.server("host:99999"),
                "token", b -> b.token("tab\there"));
        DetectionSettingsBuilder<DetectionSettings> builder = DetectionSettings.builder();
        bad.get(option).accept(builder);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, builder::build);
        String name = option.replace("NaN", "").replace("OverTile", "");
        assertTrue(e.getMessage().contains(name) || e.getMessage().contains("port"), e.getMessage());
    }

    @Test
    void builderFinisherMakesTheResult() {
        String made = DetectionSettings.builder(s -> "detector for " + s.model()).model("m").build();
        assertEquals("detector for m", made);
    }
}
