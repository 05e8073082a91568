package io.github.pathosam.client;

import io.github.pathosam.grpc.v1.ModelInfo;
import io.github.pathosam.grpc.v1.ServerInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The run plan's scale decision: which runs warn before they start, and what the warning says. */
class ScaleCheckTest {

    private static ServerInfo info(double modelUm) {
        return ServerInfo.newBuilder().setServerVersion("0.1.0").setDevice("cpu")
                .addModels(ModelInfo.newBuilder().setName("m").setIsDefault(true).setWorkingPixelSizeUm(modelUm)
                        .setSource("/w/m.pt").setDefaultTileSize(384).setDefaultHalo(64))
                .build();
    }

    private static ScaleCheck plan(DetectionSettings settings, double modelUm, double imageUm) {
        return RunPlan.of(settings, null, info(modelUm), imageUm).scale();
    }

    private static final DetectionSettings DEFAULTS = DetectionSettings.builder().build();

    @ParameterizedTest(name = "model {0} µm, image {1} µm, settings {2} -> {3}")
    @CsvSource({
            // The model's own scale on any calibrated scan: the downsample makes it fit.
            "0.25, 0.125, '', FITS",
            "0.25, 0.5, '', FITS",
            "0.25, 0.25, '', FITS",
            // The case: a checkpoint served without its pixel size runs a 0.125 µm scan at downsample 1.
            "0, 0.125, '', MODEL_SCALE_UNKNOWN",
            "0, 0.125, pixelSize=0.25, CHOSEN",
            "0, 0.125, downsample=2, CHOSEN",
            // A chosen scale far from the model's still warns, either way; 1.5x exactly does not.
            "0.25, 0.125, pixelSize=0.5, TOO_COARSE",
            "0.25, 0.125, pixelSize=0.375, FITS",
            "0.25, 0.125, downsample=1, TOO_FINE",
            "0.25, 0.25, pixelSize=0.1, TOO_FINE",
            "0.25, 0.25, pixelSize=0.17, FITS",
            // Without a pixel size nothing can be judged.
            "0.25, NaN, '', UNCALIBRATED",
            "0.25, 0, downsample=3, UNCALIBRATED",
            "0, NaN, '', UNCALIBRATED",
    })
    void verdicts(double modelUm, double imageUm, String setting, ScaleCheck.Verdict expected) {
        var b = DetectionSettings.builder();
        if (setting.startsWith("pixelSize="))
            b.pixelSize(Double.parseDouble(setting.substring(10)));
        else if (setting.startsWith("downsample="))
            b.downsample(Double.parseDouble(setting.substring(11)));
        ScaleCheck check = plan(b.build(), modelUm, imageUm);
        assertEquals(expected, check.verdict(), check.toString());
        boolean warns = expected == ScaleCheck.Verdict.MODEL_SCALE_UNKNOWN || expected == ScaleCheck.Verdict.TOO_FINE
                || expected == ScaleCheck.Verdict.TOO_COARSE;
        assertEquals(warns, check.isWarning());
        assertEquals(warns, !check.describe().isEmpty());
    }

    @Test
    void theWarningSaysWhatTheModelWillSee() {
        assertEquals("This image would run at 0.125 µm per pixel, 2.0 times finer than the 0.25 µm model 'm' works at: "
                        + "nuclei would look 2.0 times larger than the model knows them, and it may split them or find too many.",
                plan(DetectionSettings.builder().downsample(1).build(), 0.25, 0.125).describe());
        assertEquals("This image would run at 0.5 µm per pixel, 2.0 times coarser than the 0.25 µm model 'm' works at: "
                        + "nuclei would look 2.0 times smaller than the model knows them, and it may miss them.",
                plan(DetectionSettings.builder().pixelSize(0.5).build(), 0.25, 0.25).describe());
        assertEquals("The server does not say at which pixel size model 'm' works, so this 0.125 µm per pixel image "
                + "runs at full resolution; nuclei may not have the size the model knows.", plan(DEFAULTS, 0, 0.125).describe());
    }

    @Test
    void theModelsScaleSetsTheDownsample() {
        RunPlan plan = RunPlan.of(DEFAULTS, null, info(0.25), 0.125);
        assertEquals(2.0, plan.downsample(), 1e-12, "0.125 µm scan, 0.25 µm model: every second pixel");
        assertEquals(0.25, plan.scale().runPixelSizeUm(), 1e-12);
        assertEquals(1.0, plan.scale().ratio(), 1e-12);
        assertEquals(1.0, RunPlan.of(DEFAULTS, null, info(0), 0.125).downsample(), "unknown model scale: full resolution");
    }

    @Test
    void provenanceNamesModelWeightsServerScaleAndTiles() {
        Map<String, Object> p = RunPlan.of(DEFAULTS, "secret", info(0.25), 0.125).provenance();
        assertEquals("m", p.get("model"));
        assertEquals("/w/m.pt", p.get("weights"));
        assertEquals("0.1.0", p.get("server version"));
        assertEquals(0.25, p.get("model pixel size (µm)"));
        assertEquals(0.125, p.get("image pixel size (µm)"));
        assertEquals(0.25, p.get("working pixel size (µm)"));
        assertEquals(2.0, p.get("downsample"));
        assertEquals("384 + 64 halo", p.get("tile"));
        assertFalse(p.toString().contains("secret"));
        Map<String, Object> unknown = RunPlan.of(DEFAULTS, null, info(0), Double.NaN).provenance();
        assertEquals("unknown", unknown.get("model pixel size (µm)"));
        assertEquals("uncalibrated", unknown.get("working pixel size (µm)"));
        assertTrue(RunPlan.of(DEFAULTS, null, info(0.25), 0.125).toString().contains("working pixel size=0.25 µm"));
    }
}
