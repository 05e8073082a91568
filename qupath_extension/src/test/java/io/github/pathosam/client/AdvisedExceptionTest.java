package io.github.pathosam.client;

import io.grpc.Status;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.concurrent.CancellationException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a script sees when a run fails: one exception per failure kind, whose message is the advice
 * and whose deepest cause is itself, because QuPath's script runner reports the deepest cause.
 */
class AdvisedExceptionTest {

    private static final ErrorAdvice SCRIPT = new ErrorAdvice("Check .server().", "Set .token().", "Set .model().",
            "Check the options.", "See the log.");
    private static final ErrorAdvice GUI = new ErrorAdvice("Check Prefs.", "Token in Prefs.", "Model in Prefs.",
            "Check Prefs.", "See View > Log.");

    private static Throwable deepest(Throwable t) {
        while (t.getCause() != null && t.getCause() != t)
            t = t.getCause();
        return t;
    }

    /** The advised exception's message is the advice, its deepest cause is itself, and it keeps the original. */
    private static RuntimeException check(Throwable failure, String expectedMessage) {
        RuntimeException advised = SCRIPT.advised(failure);
        assertEquals(expectedMessage, advised.getMessage());
        assertSame(advised, deepest(advised), "no cause: QuPath would show " + deepest(advised));
        // Another client's wording still applies to the advised exception (the GUI shows its own).
        assertEquals(GUI.describe(failure), GUI.describe(advised));
        assertEquals(ErrorAdvice.isUnexpected(failure), ErrorAdvice.isUnexpected(advised));
        return advised;
    }

    @Test
    void noServer() {
        int port = PythonServer.freePort();
        ServerUnavailableException refused = assertTimeoutPreemptively(Duration.ofSeconds(15), () -> assertThrows(
                ServerUnavailableException.class,
                () -> RunPlan.fetch(DetectionSettings.builder().server("127.0.0.1:" + port).build(), null, 0.25)));
        assertTrue(deepest(refused).getClass().getName().contains("Connect"), "gRPC's own chain ends in Netty: " + deepest(refused));
        AdvisedException e = assertInstanceOf(AdvisedException.class, check(refused,
                "No PathoSAM server at 127.0.0.1:" + port + " — start one with `pathosam serve`. Check .server()."));
        assertEquals("UNAVAILABLE", e.statusCode());
        assertSame(refused, e.failure());
    }

    @Test
    void wrongToken() {
        RuntimeException raw = Errors.translate(Status.UNAUTHENTICATED
                .withDescription("missing or wrong bearer token (authorization header)").asRuntimeException(), "gpu:1", "GetInfo");
        PathoSamException e = assertInstanceOf(PathoSamException.class, check(raw,
                "The PathoSAM server at gpu:1 refused the token: missing or wrong bearer token (authorization header). Set .token()."));
        assertEquals("UNAUTHENTICATED", e.statusCode());
        assertEquals("Token in Prefs.", GUI.describe(e).substring(GUI.describe(e).length() - 15));
    }

    @Test
    void otherServerFailures() {
        check(new PathoSamException("NOT_FOUND", "the server has no model 'x'; it offers: m", null),
                "The server has no model 'x'; it offers: m. Set .model().");
        check(Errors.translate(Status.DEADLINE_EXCEEDED.withDescription("5 s").asRuntimeException(), "h:1", "Prompt"),
                "Prompt got no answer from h:1 in time: 5 s. The server may be busy or slow (CPU); try a smaller region.");
        check(Errors.translate(Status.RESOURCE_EXHAUSTED.withDescription("tile too large").asRuntimeException(), "h:1", "X"),
                "The PathoSAM server at h:1 is at a limit (tile too large); try smaller tiles or fewer concurrent runs.");
        check(new PathoSamException("FAILED_PRECONDITION", "model 'm' cannot classify nuclei", null),
                "Model 'm' cannot classify nuclei.");
        RuntimeException lost = check(Errors.translate(Status.UNAVAILABLE.withDescription("closed").asRuntimeException(),
                "h:1", "SegmentRegion"), "Lost the connection to the PathoSAM server at h:1 during SegmentRegion: closed. Check .server().");
        assertEquals("UNAVAILABLE", ((PathoSamException) lost).statusCode());
    }

    @Test
    void settingsPixelsAndCancellationKeepTheirKind() {
        RuntimeException setting = check(new IllegalArgumentException("tileSize must be 16-4096 pixels, not 8",
                new NumberFormatException("8")), "tileSize must be 16-4096 pixels, not 8");
        assertInstanceOf(IllegalArgumentException.class, setting);
        RuntimeException pixels = check(new UncheckedIOException(new IOException("slide.svs is gone")),
                "Could not read the image's pixels: slide.svs is gone. Check that the image file is reachable.");
        assertEquals("CLIENT", ((PathoSamException) pixels).statusCode());
        CancellationException grpcCancel = new CancellationException("SegmentRegion was cancelled: CANCELLED");
        grpcCancel.initCause(Status.CANCELLED.asRuntimeException());
        assertInstanceOf(CancellationException.class, check(grpcCancel, "Cancelled: nothing was changed."));
    }

    @Test
    void aBugKeepsItsStackTrace() {
        NullPointerException bug = new NullPointerException("x");
        assertSame(bug, SCRIPT.advised(bug));
        assertTrue(ErrorAdvice.isUnexpected(SCRIPT.advised(bug)));
        assertNull(new AdvisedException("X", "m", null).getCause());
    }
}
