package qupath.ext.pathosam;

import io.github.pathosam.client.ClientOptions;
import io.github.pathosam.client.DetectionSettings;
import io.github.pathosam.client.NucleusResult;
import io.github.pathosam.client.PathoSamClient;
import io.github.pathosam.client.PixelRect;
import io.github.pathosam.client.RegionCall;
import io.github.pathosam.client.RegionClipper;
import io.github.pathosam.client.RegionListener;
import io.github.pathosam.client.RegionSummary;
import io.github.pathosam.client.ReplacementRule;
import io.github.pathosam.client.RunPlan;
import io.github.pathosam.client.ScaleCheck;
import io.github.pathosam.client.TileProgress;
import org.locationtech.jts.geom.Geometry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import qupath.lib.images.ImageData;
import qupath.lib.images.servers.ImageServer;
import qupath.lib.images.servers.ServerTools;
import qupath.lib.objects.PathObject;
import qupath.lib.regions.ImagePlane;
import qupath.lib.roi.GeometryTools;
import qupath.lib.roi.interfaces.ROI;

import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;

/**
 * One automatic detection over the regions of one image: plans the run with the server
 * ({@link RunPlan}), streams each region's tiles from QuPath's image server, clips the nuclei to
 * their region and writes them, all at once, as detections.
 */
final class DetectionRun {

    private static final Logger logger = LoggerFactory.getLogger(DetectionRun.class);

    /**
     * A region to segment.
     *
     * @param parent the annotation or TMA core the detections go below; the root for the whole image
     * @param roi    its outline, or null for the whole image (no clipping)
     * @param plane  the plane to read
     */
    record Region(PathObject parent, ROI roi, ImagePlane plane) {
    }

    /** A region's nuclei with the server's summary of them. */
    private record Segmented(List<NucleusResult> nuclei, RegionSummary summary) {
    }

    private final DetectionSettings settings;
    private final ImageData<BufferedImage> imageData;
    private final DetectionProgress progress;

    DetectionRun(DetectionSettings settings, ImageData<BufferedImage> imageData, DetectionProgress progress) {
        this.settings = settings;
        this.imageData = imageData;
        this.progress = progress == null ? DetectionProgress.NONE : progress;
    }

    /**
     * Runs; interrupting the thread cancels the server's work and changes nothing.
     *
     * @param regions the regions, each below its parent
     * @return what was done
     */
    PathoSamResults run(List<Region> regions) {
        long start = System.nanoTime();
        ImageServer<BufferedImage> server = ImageServerTileSource.requireRgb(imageData.getServer());
        RunPlan plan = RunPlan.fetch(settings, ServerToken.fallback(), ImageServerTileSource.pixelSizeMicrons(server))
                .requireClassesIfAsked();
        String image = ServerTools.getDisplayableImageName(server);
        logger.info("PathoSAM: {} region(s) of {}: {}", regions.size(), image, plan);
        ScaleCheck scale = plan.scale();
        if (scale.isWarning()) {
            logger.warn("PathoSAM: {}", PathoSamResources.scaleWarning(scale));
            if (!progress.proceedDespite(scale))
                throw new CancellationException("the run was stopped before it started, at its scale warning");
        }

        DetectionObjects factory = new DetectionObjects(plan.classColours());
        Map<PathObject, List<PathObject>> children = new LinkedHashMap<>();
        List<Geometry> outlines = new ArrayList<>();
        List<PathObject> created = new ArrayList<>();
        long droppedAtSeams = 0;
        long touchingTileEdge = 0;
        long tilesSkipped = 0;
        // One client per run, so one choice per run: a whole-image run skips glass unless told not to.
        boolean wholeImage = regions.stream().allMatch(r -> r.roi() == null);
        ClientOptions options = plan.options().toBuilder()
                .skipBackground(settings.resolveSkipBackground(wholeImage))
                .build();
        try (PathoSamClient client = PathoSamClient.connect(options, GeometryTools.getDefaultFactory())) {
            for (int i = 0; i < regions.size(); i++) {
                Region region = regions.get(i);
                progress.update(i, regions.size(), null);
                Segmented segmented = segment(client, server, region, i, regions.size());
                if (segmented.summary() != null) {
                    droppedAtSeams += segmented.summary().nucleiDroppedAtSeams();
                    touchingTileEdge += segmented.summary().nucleiTouchingTileEdge();
                    tilesSkipped += segmented.summary().tilesSkipped();
                }
                List<NucleusResult> nuclei = segmented.nuclei();
                if (region.roi() != null) {
                    Geometry outline = region.roi().getGeometry();
                    outlines.add(outline);
                    nuclei = new RegionClipper(outline).clip(nuclei);
                }
                List<PathObject> below = children.computeIfAbsent(region.parent(), p -> new ArrayList<>());
                for (NucleusResult n : nuclei) {
                    PathObject detection = factory.create(n, region.plane());
                    if (detection != null) {
                        below.add(detection);
                        created.add(detection);
                    }
                }
            }
        }
        if (Thread.currentThread().isInterrupted())
            throw new CancellationException("cancelled before the results were written");
        ReplacementRule rule = !settings.replace() ? null
                : outlines.size() < regions.size() ? ReplacementRule.wholeImage() : ReplacementRule.within(outlines);
        int replaced = DetectionObjects.write(imageData.getHierarchy(), children, rule, this);
        // The seam and tile-edge counts say whether the tiles suited these nuclei; logged for
        // scripts, which may not print the results.
        logger.info("PathoSAM: {} nuclei in {}; {} found at a seam by two tiles and kept once, {} touching an inner "
                + "tile edge (halo {} px); {} tiles of glass skipped", created.size(), image, droppedAtSeams,
                touchingTileEdge, plan.halo(), tilesSkipped);
        return new PathoSamResults(created.size(), replaced, droppedAtSeams,
                DetectionObjects.countPerClass(created, plan.classColours().keySet()), regions.size(),
                plan.model().getName(), plan.downsample(), scale.runPixelSizeUm(), (System.nanoTime() - start) / 1e9,
                plan.provenance());
    }

    private Segmented segment(PathoSamClient client, ImageServer<BufferedImage> server, Region region,
                              int index, int count) {
        PixelRect bounds = bounds(region.roi(), server);
        if (bounds.isEmpty())
            return new Segmented(List.of(), null);
        List<NucleusResult> found = Collections.synchronizedList(new ArrayList<>());
        RegionCall call = client.newRegionCall(bounds, new ImageServerTileSource(server, region.plane()),
                new RegionListener() {
                    @Override
                    public void onNuclei(long tileIndex, List<NucleusResult> nuclei) {
                        found.addAll(nuclei);
                    }

                    @Override
                    public void onProgress(TileProgress tile) {
                        progress.update(index, count, tile);
                    }
                });
        // The first tile can take most of a minute on a CPU: say at once how many are coming.
        progress.update(index, count, new TileProgress(-1, 0, 0, call.tiles().size(), 0));
        RegionSummary summary = call.run();
        return new Segmented(new ArrayList<>(found), summary);
    }

    /** Level-0 pixels the region covers: the ROI's bounds rounded outwards, clipped to the image. */
    static PixelRect bounds(ROI roi, ImageServer<?> server) {
        PixelRect image = new PixelRect(0, 0, server.getWidth(), server.getHeight());
        if (roi == null)
            return image;
        int x0 = (int) Math.floor(roi.getBoundsX());
        int y0 = (int) Math.floor(roi.getBoundsY());
        int x1 = (int) Math.ceil(roi.getBoundsX() + roi.getBoundsWidth());
        int y1 = (int) Math.ceil(roi.getBoundsY() + roi.getBoundsHeight());
        return PixelRect.fromCorners(x0, y0, Math.max(x0, x1), Math.max(y0, y1)).intersection(image);
    }
}
