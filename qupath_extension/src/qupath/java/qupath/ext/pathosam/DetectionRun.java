package qupath.ext.pathosam;

import io.github.pathosam.client.ClientOptions;
import io.github.pathosam.client.DetectionSettings;
import io.github.pathosam.client.ModelSelection;
import io.github.pathosam.client.NucleusResult;
import io.github.pathosam.client.PathoSamClient;
import io.github.pathosam.client.PathoSamException;
import io.github.pathosam.client.PixelRect;
import io.github.pathosam.client.RegionClipper;
import io.github.pathosam.client.RegionListener;
import io.github.pathosam.client.ReplacementRule;
import io.github.pathosam.client.TileProgress;
import io.github.pathosam.grpc.v1.ModelInfo;
import io.github.pathosam.grpc.v1.ServerInfo;
import org.locationtech.jts.geom.Geometry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import qupath.lib.images.ImageData;
import qupath.lib.images.servers.ImageServer;
import qupath.lib.images.servers.PixelCalibration;
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

/**
 * One automatic detection over the regions of one image: asks the server which model and
 * resolution to use, streams each region's tiles from QuPath's image server, clips the nuclei to
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

    /** Receives progress from the worker thread; implementations hand it to the UI thread themselves. */
    @FunctionalInterface
    interface Progress {
        /**
         * @param region  index of the region being segmented
         * @param regions number of regions
         * @param tile    the tile just finished, or null when the region starts
         */
        void update(int region, int regions, TileProgress tile);
    }

    private final DetectionSettings settings;
    private final ImageData<BufferedImage> imageData;
    private final Progress progress;

    DetectionRun(DetectionSettings settings, ImageData<BufferedImage> imageData, Progress progress) {
        this.settings = settings;
        this.imageData = imageData;
        this.progress = progress == null ? (r, n, t) -> { } : progress;
    }

    /**
     * Runs; interrupting the thread cancels the server's work and changes nothing.
     *
     * @param regions the regions, each below its parent
     * @return what was done
     */
    PathoSamResults run(List<Region> regions) {
        long start = System.nanoTime();
        ImageServer<BufferedImage> server = imageData.getServer();
        if (!server.isRGB())
            throw new PathoSamException("CLIENT", PathoSamResources.format("error.notRgb",
                    ServerTools.getDisplayableImageName(server)), null);
        ModelInfo model = model();
        double downsample = settings.resolveDownsample(model.getWorkingPixelSizeUm(), pixelSizeMicrons(server));
        int tileSize = settings.resolveTileSize(model.getDefaultTileSize());
        int halo = settings.resolveHalo(model.getDefaultHalo(), tileSize);
        ClientOptions options = withToken(settings.toClientOptions(downsample, tileSize, halo))
                .toBuilder().model(model.getName()).build();
        logger.info("PathoSAM: {} region(s) of {} with {} at downsample {}", regions.size(),
                ServerTools.getDisplayableImageName(server), model.getName(), downsample);

        DetectionObjects factory = new DetectionObjects(ModelSelection.classColours(model));
        Map<PathObject, List<PathObject>> children = new LinkedHashMap<>();
        List<Geometry> outlines = new ArrayList<>();
        List<PathObject> created = new ArrayList<>();
        try (PathoSamClient client = PathoSamClient.connect(options, GeometryTools.getDefaultFactory())) {
            for (int i = 0; i < regions.size(); i++) {
                Region region = regions.get(i);
                progress.update(i, regions.size(), null);
                List<NucleusResult> nuclei = segment(client, server, region, i, regions.size());
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
            throw new java.util.concurrent.CancellationException("cancelled before the results were written");
        ReplacementRule rule = !settings.replace() ? null
                : outlines.size() < regions.size() ? ReplacementRule.wholeImage() : ReplacementRule.within(outlines);
        int replaced = DetectionObjects.write(imageData.getHierarchy(), children, rule, this);
        return new PathoSamResults(created.size(), replaced, DetectionObjects.countPerClass(created), regions.size(),
                model.getName(), downsample, (System.nanoTime() - start) / 1e9);
    }

    /**
     * Asks the server (health, then GetInfo) for its models and picks the configured one.
     *
     * @return the model
     * @throws io.github.pathosam.client.PathoSamException when the server is unreachable or lacks the model
     */
    ModelInfo model() {
        ServerInfo info;
        try (PathoSamClient client = PathoSamClient.connect(withToken(settings.connectionOptions()))) {
            client.checkHealth();
            info = client.getInfo();
        }
        ModelInfo model = ModelSelection.select(info, settings.model());
        ModelSelection.checkCanClassify(model, settings.classify());
        return model;
    }

    private List<NucleusResult> segment(PathoSamClient client, ImageServer<BufferedImage> server, Region region,
                                        int index, int count) {
        PixelRect bounds = bounds(region.roi(), server);
        if (bounds.isEmpty())
            return List.of();
        List<NucleusResult> found = Collections.synchronizedList(new ArrayList<>());
        client.newRegionCall(bounds, new ImageServerTileSource(server, region.plane()), new RegionListener() {
            @Override
            public void onNuclei(long tileIndex, List<NucleusResult> nuclei) {
                found.addAll(nuclei);
            }

            @Override
            public void onProgress(TileProgress tile) {
                progress.update(index, count, tile);
            }
        }).run();
        return new ArrayList<>(found);
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

    /** @return the image's level-0 pixel size in µm, NaN when it has no calibration */
    static double pixelSizeMicrons(ImageServer<?> server) {
        PixelCalibration cal = server.getPixelCalibration();
        return cal.hasPixelSizeMicrons() ? cal.getAveragedPixelSizeMicrons() : Double.NaN;
    }

    private ClientOptions withToken(ClientOptions options) {
        return options.toBuilder().token(PathoSamPreferences.token(settings.token().orElse(null))).build();
    }
}
