package io.github.pathosam.client;

import io.github.pathosam.grpc.v1.ClassInfo;
import io.github.pathosam.grpc.v1.ModelInfo;
import io.github.pathosam.grpc.v1.ServerInfo;
import io.grpc.Status;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CancellationException;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Model choice from GetInfo, and the messages users see when a run fails. */
class ModelSelectionTest {

    private static final ServerInfo INFO = ServerInfo.newBuilder()
            .addModels(ModelInfo.newBuilder().setName("vit_l_histopathology").setWorkingPixelSizeUm(0.25))
            .addModels(ModelInfo.newBuilder().setName("vit_b_histopathology").setIsDefault(true).setHasSemanticDecoder(true)
                    .addClasses(ClassInfo.newBuilder().setId(2).setName("Inflammatory").setRgb(0x00FF00))
                    .addClasses(ClassInfo.newBuilder().setId(1).setName("Neoplastic").setRgb(0xFFFF0000)))
            .build();

    @Test
    void selectsByNameOrTheDefault() {
        assertEquals("vit_b_histopathology", ModelSelection.select(INFO, "").getName());
        assertEquals("vit_l_histopathology", ModelSelection.select(INFO, "vit_l_histopathology").getName());
        PathoSamException e = assertThrows(PathoSamException.class, () -> ModelSelection.select(INFO, "vit_h"));
        assertEquals("NOT_FOUND", e.statusCode());
        assertTrue(e.getMessage().contains("vit_l_histopathology, vit_b_histopathology"), e.getMessage());
    }

    @Test
    void classColoursInIdOrderWithoutAlpha() {
        Map<String, Integer> colours = ModelSelection.classColours(ModelSelection.select(INFO, ""));
        assertEquals(List.of("Neoplastic", "Inflammatory"), List.copyOf(colours.keySet()));
        assertEquals(0xFF0000, colours.get("Neoplastic"));
        assertTrue(ModelSelection.classColours(ModelSelection.select(INFO, "vit_l_histopathology")).isEmpty());
    }

    @Test
    void classesOnlyFromAModelThatHasThem() {
        ModelInfo plain = ModelSelection.select(INFO, "vit_l_histopathology");
        assertThrows(PathoSamException.class, () -> ModelSelection.checkCanClassify(plain, Optional.of(true)));
        assertDoesNotThrow(() -> ModelSelection.checkCanClassify(plain, Optional.empty()));
        assertDoesNotThrow(() -> ModelSelection.checkCanClassify(ModelSelection.select(INFO, ""), Optional.of(true)));
    }

    @Test
    void errorAdviceSaysWhatToDo() {
        ErrorAdvice advice = ErrorAdvice.NEUTRAL;
        assertEquals("No PathoSAM server at h:1 — start one with `pathosam serve`. Check the server address.",
                advice.describe(new ServerUnavailableException(Errors.noServer("h:1"), null)));
        String auth = advice.describe(Errors.translate(Status.UNAUTHENTICATED.withDescription("bad token").asRuntimeException(), "h:1", "GetInfo"));
        assertEquals("The PathoSAM server at h:1 refused the token: bad token. Check the server token.", auth);
        assertTrue(advice.describe(new IllegalArgumentException("tileSize must be 16-4096 pixels, not 8"))
                .startsWith("TileSize must be"));
        assertTrue(advice.describe(new UncheckedIOException(new IOException("gone"))).startsWith("Could not read the image's pixels: gone."));
        assertEquals("Cancelled: nothing was changed.", advice.describe(new CancellationException()));
        assertTrue(ErrorAdvice.isCancellation(new RuntimeException(new InterruptedException())));
        assertTrue(ErrorAdvice.isUnexpected(new NullPointerException()));
        assertFalse(ErrorAdvice.isUnexpected(new PathoSamException("INTERNAL", "x", null)));
        assertFalse(advice.describe(new NullPointerException("npe")).contains("\tat "), "never a stack trace");
    }

    @Test
    void errorAdviceTakesTheClientsWordingForWhereToFixThings() {
        ErrorAdvice qupath = new ErrorAdvice("Check the address in Prefs.", "Set the token in Prefs.", "Set the model in Prefs.",
                "Check Prefs.", "See the log window.");
        assertTrue(qupath.describe(new ServerUnavailableException(Errors.noServer("h:1"), null)).endsWith(" Check the address in Prefs."));
        assertTrue(qupath.describe(new PathoSamException("PERMISSION_DENIED", "refused", null)).endsWith("Refused. Set the token in Prefs."));
        PathoSamException noModel = assertThrows(PathoSamException.class, () -> ModelSelection.select(INFO, "vit_h"));
        assertEquals("The server has no model 'vit_h'; it offers: vit_l_histopathology, vit_b_histopathology. "
                + "Set the model in Prefs.", qupath.describe(noModel));
        assertTrue(qupath.describe(new IllegalArgumentException("halo must be 0-64 pixels, not 65")).endsWith("65. Check Prefs."));
        assertTrue(qupath.describe(new IllegalStateException("bug")).endsWith(" See the log window."));
        // A gRPC NOT_FOUND from the server is the same condition: it has no such model.
        String fromServer = qupath.describe(Errors.translate(Status.NOT_FOUND.withDescription("unknown model 'x'").asRuntimeException(),
                "h:1", "SegmentRegion"));
        assertTrue(fromServer.endsWith("Set the model in Prefs."), fromServer);
    }
}
