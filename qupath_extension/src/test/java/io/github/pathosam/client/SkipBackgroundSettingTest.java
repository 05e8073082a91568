package io.github.pathosam.client;

import io.github.pathosam.grpc.v1.SegmentParams;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code skipBackground}: unset decides per run (whole image on, annotations off) and reaches SegmentParams. */
class SkipBackgroundSettingTest {

    @Test
    void unsetSkipsGlassOnlyForWholeImagesAndLeavesTheServerDefault() {
        DetectionSettings s = DetectionSettings.builder().build();
        assertTrue(s.skipBackground().isEmpty());
        assertTrue(s.resolveSkipBackground(true), "a whole slide is often half glass");
        assertFalse(s.resolveSkipBackground(false), "an annotation already is tissue");
        assertFalse(s.toMap().containsKey("skipBackground"), "the default is not written to the workflow");
        SegmentParams params = Protos.params(s.toClientOptions(1.0, 384, 64));
        assertFalse(params.hasSkipBackground(), "unset stays unset on the wire: the server's default (off)");
    }

    @Test
    void anExplicitChoiceWinsEverywhereAndTravels() {
        DetectionSettings on = DetectionSettings.builder().skipBackground(true).build();
        assertTrue(on.resolveSkipBackground(false) && on.resolveSkipBackground(true));
        SegmentParams params = Protos.params(on.toClientOptions(1.0, 384, 64));
        assertTrue(params.hasSkipBackground() && params.getSkipBackground());
        assertEquals(true, on.toMap().get("skipBackground"));
        assertTrue(on.toScript("PathoSam.builder()").contains("\n    .skipBackground(true)"));

        DetectionSettings off = DetectionSettings.builder().skipBackground(false).build();
        assertFalse(off.resolveSkipBackground(true));
        SegmentParams sent = Protos.params(off.toClientOptions(1.0, 384, 64));
        assertTrue(sent.hasSkipBackground() && !sent.getSkipBackground(), "off is sent explicitly");
    }

    @Test
    void clientOptionsKeepTheChoiceThroughToBuilder() {
        ClientOptions options = ClientOptions.builder().skipBackground(true).build();
        assertEquals(true, options.toBuilder().build().skipBackground().orElseThrow());
        assertTrue(ClientOptions.builder().build().skipBackground().isEmpty());
    }
}
