package io.github.pathosam.client;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Java-side overhead of region segmentation as a share of the server's own time, raw vs PNG
 * pixels, on loopback against the real Python server. Not a timed test: it prints a table.
 *
 * <pre>
 * mvn -Pbenchmark test -Dpathosam.python=... -Dpathosam.model=...
 *   -Dbenchmark.width=800 -Dbenchmark.height=600 -Dbenchmark.repeats=1   (6 tiles of 384 + 64 px)
 * </pre>
 * Client time = tile reading + encoding + message building + handing to gRPC (sending thread) + converting received
 * nuclei to JTS (gRPC thread). Server time = the summary's total_seconds (wall time from the
 * stream's start to its summary). Wall = the client's wall time for the whole call.
 */
@Tag("benchmark")
class ClientOverheadBenchmark {

    @Test
    void rawVersusPng() throws Exception {
        int width = Integer.getInteger("benchmark.width", 800);
        int height = Integer.getInteger("benchmark.height", 600);
        int repeats = Integer.getInteger("benchmark.repeats", 1);
        Path dir = Files.createTempDirectory("pathosam-bench-");
        SyntheticSlide slide = SyntheticSlide.create(dir, 3, width, height);
        PixelRect region = new PixelRect(0, 0, width, height);
        try (PythonServer server = PythonServer.start()) {
            System.out.printf(Locale.ROOT, "%nClient overhead on loopback, %d x %d region, model %s%n", width, height,
                    PythonServer.model().getFileName());
            System.out.printf(Locale.ROOT, "%-9s %5s %9s %8s %8s %8s %9s %9s %9s %8s %8s %8s%n", "encoding", "tiles",
                    "sent MB", "read s", "encode s", "jts s", "client s", "server s", "wall s", "share", "nuclei", "recv MB");
            // A one-tile run warms up the JVM, the server's torch kernels and caches; it is not reported.
            run(server, slide, new PixelRect(0, 0, 256, 256), TileEncoding.RAW_RGB8, false);
            for (int i = 0; i < repeats; i++)
                for (TileEncoding encoding : TileEncoding.values())
                    run(server, slide, region, encoding, true);
        } finally {
            slide.png().toFile().delete();
        }
    }

    private static void run(PythonServer server, SyntheticSlide slide, PixelRect region, TileEncoding encoding,
                            boolean print) {
        CollectingListener listener = new CollectingListener();
        try (PathoSamClient client = PathoSamClient.connect(server.options().encoding(encoding).build())) {
            RegionCall call = client.newRegionCall(region, slide.source(), listener);
            long t0 = System.nanoTime();
            RegionSummary summary = call.run();
            double wall = (System.nanoTime() - t0) / 1e9;
            ClientStats s = call.stats();
            double clientSeconds = s.seconds();
            if (print)
                System.out.printf(Locale.ROOT, "%-9s %5d %9.2f %8.3f %8.3f %8.3f %9.3f %9.2f %9.2f %7.2f%% %8d %8.2f%n",
                        encoding, s.tilesSent(), s.bytesSent() / 1e6, s.readSeconds(), s.encodeSeconds(),
                        s.convertSeconds(), clientSeconds, summary.totalSeconds(), wall,
                        100 * clientSeconds / summary.totalSeconds(), summary.nuclei(), s.bytesReceived() / 1e6);
            if (print)
                System.out.printf(Locale.ROOT, "          per tile: client %.1f ms (read %.1f, encode %.1f, send %.1f, jts %.1f);"
                                + " server %.0f ms (encoder %.0f, decoder %.0f, postprocess %.0f)%n",
                        1e3 * clientSeconds / s.tilesSent(), 1e3 * s.readSeconds() / s.tilesSent(),
                        1e3 * s.encodeSeconds() / s.tilesSent(), 1e3 * s.sendSeconds() / s.tilesSent(),
                        1e3 * s.convertSeconds() / s.tilesSent(),
                        1e3 * summary.totalSeconds() / s.tilesSent(), 1e3 * summary.encoderSeconds() / s.tilesSent(),
                        1e3 * summary.decoderSeconds() / s.tilesSent(), 1e3 * summary.postprocessSeconds() / s.tilesSent());
        }
    }
}
