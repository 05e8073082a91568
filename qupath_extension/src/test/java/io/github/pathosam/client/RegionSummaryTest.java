package io.github.pathosam.client;

import io.github.pathosam.grpc.v1.Timings;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Every field of the server's summary reaches the client's record, each in its own place. */
class RegionSummaryTest {

    @Test
    void everyFieldIsMapped() {
        io.github.pathosam.grpc.v1.RegionSummary proto = io.github.pathosam.grpc.v1.RegionSummary.newBuilder()
                .setNuclei(41).setTiles(4).putNucleiPerClass("Neoplastic", 40).putNucleiPerClass("", 1)
                .setTimings(Timings.newBuilder().setEncoderSeconds(1.5).setDecoderSeconds(0.5)
                        .setPostprocessSeconds(0.25).setTotalSeconds(2.5))
                .setCoreCoverage(0.75).setNucleiTouchingTileEdge(3).setNucleiDroppedAtSeams(2).setModel("vit_t")
                .setTilesSkipped(1)
                .build();
        RegionSummary s = RegionSummary.fromProto(proto);
        assertEquals(new RegionSummary(41, 4, Map.of("Neoplastic", 40L, "", 1L), 1.5, 0.5, 0.25, 2.5, 0.75, 3, 2, "vit_t", 1),
                s);
        assertEquals(2, s.nucleiDroppedAtSeams());
        assertEquals(1, s.tilesSkipped());
        assertEquals(3, s.nucleiTouchingTileEdge());
        assertThrows(UnsupportedOperationException.class, () -> s.nucleiPerClass().put("x", 1L));
    }

    @Test
    void anOlderServerReportsNoneDropped() {
        // A server from before the field leaves it unset: proto3 reads 0.
        assertEquals(0, RegionSummary.fromProto(io.github.pathosam.grpc.v1.RegionSummary.getDefaultInstance())
                .nucleiDroppedAtSeams());
        assertEquals(0, RegionSummary.fromProto(io.github.pathosam.grpc.v1.RegionSummary.getDefaultInstance())
                .tilesSkipped(), "an older server skipped nothing");
    }
}
