package io.github.pathosam.client;

import io.github.pathosam.grpc.v1.ClassInfo;
import io.github.pathosam.grpc.v1.ModelInfo;
import io.github.pathosam.grpc.v1.ServerInfo;
import io.github.pathosam.grpc.v1.Limits;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Settings + GetInfo + the image's pixel size -> the run's model, downsample, tiles and options. */
class RunPlanTest {

    private static final ServerInfo INFO = ServerInfo.newBuilder()
            .setLimits(Limits.newBuilder().setMaxTileSize(1024))
            .addModels(ModelInfo.newBuilder().setName("vit_l_histopathology").setWorkingPixelSizeUm(0.5)
                    .setDefaultTileSize(256).setDefaultHalo(32))
            .addModels(ModelInfo.newBuilder().setName("vit_b_histopathology").setIsDefault(true)
                    .setWorkingPixelSizeUm(0.25).setDefaultTileSize(384).setDefaultHalo(64).setHasSemanticDecoder(true)
                    .addClasses(ClassInfo.newBuilder().setId(1).setName("Neoplastic").setRgb(0xFF0000)))
            .build();

    @Test
    void unsetValuesFollowTheDefaultModel() {
        RunPlan plan = RunPlan.of(DetectionSettings.builder().build(), null, INFO, 0.5);
        assertSame(INFO, plan.server());
        assertEquals("vit_b_histopathology", plan.model().getName());
        assertEquals(0.5, plan.downsample(), 1e-12, "0.25 µm model on a 0.5 µm scan: each pixel becomes two");
        assertEquals(384, plan.tileSize());
        assertEquals(64, plan.halo());
        ClientOptions o = plan.options();
        assertEquals("vit_b_histopathology", o.model(), "the chosen model is named, not left to the server's default");
        assertEquals(0.5, o.downsample(), 1e-12);
        assertEquals(384, o.tileSize());
        assertEquals(64, o.halo());
        assertEquals("127.0.0.1:50051", o.address());
        assertTrue(o.token().isEmpty());
        assertEquals(1024, plan.maxTilePixels());
        assertEquals(List.of("Neoplastic"), List.copyOf(plan.classColours().keySet()));
    }

    @Test
    void aNamedModelBringsItsOwnResolutionAndTiles() {
        RunPlan plan = RunPlan.of(DetectionSettings.builder().model("vit_l_histopathology").build(), null, INFO, 0.25);
        assertEquals(2.0, plan.downsample(), 1e-12);
        assertEquals(256, plan.tileSize());
        assertEquals(32, plan.halo());
        assertTrue(plan.classColours().isEmpty());
    }

    @Test
    void settingsWinOverTheModel() {
        DetectionSettings s = DetectionSettings.builder().server("gpu:6000").tileSize(128).halo(100).pixelSize(1.0)
                .encoding("png").classify(false).simplify(0).build();
        RunPlan plan = RunPlan.of(s, null, INFO, 0.25);
        assertEquals(4.0, plan.downsample(), 1e-12);
        assertEquals(128, plan.tileSize());
        assertEquals(100, plan.halo());
        assertEquals(32, RunPlan.of(DetectionSettings.builder().tileSize(32).build(), null, INFO, 0.25).halo(),
                "the model's 64 px halo never exceeds a smaller tile");
        assertEquals("gpu:6000", plan.options().address());
        assertSame(TileEncoding.PNG, plan.options().encoding());
        assertEquals(false, plan.options().classify().orElseThrow());
        assertEquals(0.0, plan.options().simplifyTolerance().orElseThrow());
        assertEquals(3.0, RunPlan.of(DetectionSettings.builder().downsample(3).build(), null, INFO, 0.25).downsample());
    }

    @Test
    void withoutAPixelSizeTheImageRunsAtFullResolution() {
        assertEquals(1.0, RunPlan.of(DetectionSettings.builder().build(), null, INFO, Double.NaN).downsample());
        assertEquals(1.0, RunPlan.of(DetectionSettings.builder().build(), null, INFO, 0).downsample());
    }

    @Test
    void theSettingsTokenWinsOverTheFallback() {
        assertEquals("mine", RunPlan.of(DetectionSettings.builder().token("mine").build(), "prefs", INFO, 1)
                .options().token().orElseThrow());
        assertEquals("prefs", RunPlan.of(DetectionSettings.builder().build(), "prefs", INFO, 1)
                .options().token().orElseThrow());
        assertFalse(RunPlan.of(DetectionSettings.builder().build(), "prefs", INFO, 1).toString().contains("prefs"),
                "the token is never printed");
    }

    @Test
    void anUnknownModelOrAnImpossibleResolutionIsRefused() {
        PathoSamException e = assertThrows(PathoSamException.class,
                () -> RunPlan.of(DetectionSettings.builder().model("vit_h").build(), null, INFO, 0.25));
        assertEquals("NOT_FOUND", e.statusCode());
        // 0.001 µm working pixels on a 0.25 µm scan: downsample 0.004, below the client's limit.
        IllegalArgumentException tooFine = assertThrows(IllegalArgumentException.class,
                () -> RunPlan.of(DetectionSettings.builder().pixelSize(0.001).build(), null, INFO, 0.25));
        assertTrue(tooFine.getMessage().startsWith("downsample must be at least 0.01"), tooFine.getMessage());
    }

    @Test
    void classesAreRefusedUpFrontFromAModelWithoutThem() {
        RunPlan plain = RunPlan.of(DetectionSettings.builder().model("vit_l_histopathology").classify(true).build(), null, INFO, 1);
        PathoSamException e = assertThrows(PathoSamException.class, plain::requireClassesIfAsked);
        assertEquals("FAILED_PRECONDITION", e.statusCode());
        RunPlan unasked = RunPlan.of(DetectionSettings.builder().model("vit_l_histopathology").build(), null, INFO, 1);
        assertSame(unasked, unasked.requireClassesIfAsked());
        RunPlan classifying = RunPlan.of(DetectionSettings.builder().classify(true).build(), null, INFO, 1);
        assertSame(classifying, classifying.requireClassesIfAsked());
    }

    @Test
    void fetchSaysHowToStartAServerWhenNoneAnswers() {
        int port = PythonServer.freePort();
        DetectionSettings s = DetectionSettings.builder().server("127.0.0.1:" + port).build();
        ServerUnavailableException e = assertTimeoutPreemptively(Duration.ofSeconds(15),
                () -> assertThrows(ServerUnavailableException.class, () -> RunPlan.fetch(s, null, 0.25)));
        assertEquals("no PathoSAM server at 127.0.0.1:" + port + " — start one with `pathosam serve`", e.getMessage());
    }
}
