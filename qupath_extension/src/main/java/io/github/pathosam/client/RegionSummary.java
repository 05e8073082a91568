package io.github.pathosam.client;

import java.util.Map;

/**
 * The server's closing summary of one region stream.
 *
 * @param nuclei                  nuclei returned
 * @param tiles                   tiles processed
 * @param nucleiPerClass          nuclei per class name ({@code ""} for unclassified)
 * @param encoderSeconds          server time in the image encoder
 * @param decoderSeconds          server time in the instance / semantic decoders
 * @param postprocessSeconds      server time in watershed, polygons and classes
 * @param totalSeconds            server wall time from the stream's start to the summary
 * @param coreCoverage            share of the region covered by tile cores, in [0, 1]
 * @param nucleiTouchingTileEdge  nuclei that touched an inner tile edge (halo too small for them)
 * @param nucleiDroppedAtSeams    nuclei a tile owned but the server left out because an earlier tile
 *                                of the stream had already returned the same nucleus (the two tiles
 *                                segmented it differently); each nucleus still comes back once
 * @param model                   the model that ran
 * @param tilesSkipped            tiles (counted in {@code tiles}) that held no tissue and were not encoded,
 *                                when the run asked to skip background
 */
public record RegionSummary(long nuclei, long tiles, Map<String, Long> nucleiPerClass,
                            double encoderSeconds, double decoderSeconds, double postprocessSeconds,
                            double totalSeconds, double coreCoverage, long nucleiTouchingTileEdge,
                            long nucleiDroppedAtSeams, String model, long tilesSkipped) {

    /** Makes the class map immutable. */
    public RegionSummary {
        nucleiPerClass = Map.copyOf(nucleiPerClass);
    }

    static RegionSummary fromProto(io.github.pathosam.grpc.v1.RegionSummary s) {
        return new RegionSummary(s.getNuclei(), s.getTiles(), s.getNucleiPerClassMap(),
                s.getTimings().getEncoderSeconds(), s.getTimings().getDecoderSeconds(),
                s.getTimings().getPostprocessSeconds(), s.getTimings().getTotalSeconds(),
                s.getCoreCoverage(), s.getNucleiTouchingTileEdge(), s.getNucleiDroppedAtSeams(), s.getModel(),
                s.getTilesSkipped());
    }
}
