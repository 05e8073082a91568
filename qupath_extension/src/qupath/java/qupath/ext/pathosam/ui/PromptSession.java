package qupath.ext.pathosam.ui;

import io.github.pathosam.client.DetectionSettings;
import io.github.pathosam.client.PathoSamClient;
import io.github.pathosam.client.PromptWindows;
import io.github.pathosam.client.RunPlan;
import io.github.pathosam.client.ScaleCheck;
import qupath.ext.pathosam.DetectionObjects;
import qupath.ext.pathosam.ImageServerTileSource;
import qupath.ext.pathosam.ServerToken;
import qupath.lib.images.ImageData;
import qupath.lib.images.servers.ImageServer;
import qupath.lib.roi.GeometryTools;

import java.awt.image.BufferedImage;

/**
 * What interactive prompts on one image need, kept between clicks: the client (which remembers the
 * window digests the server caches, so a repeated window costs only its digest), the model's
 * classes and the window planner at the image's working resolution.
 *
 * @param key     the settings it was made for; another key means another session
 * @param client  the connection
 * @param windows window planner at the image's working resolution
 * @param objects turns nuclei into detections with the model's classes
 * @param scale   whether the image's pixels at the session's downsample suit the model
 */
record PromptSession(String key, PathoSamClient client, PromptWindows windows, DetectionObjects objects,
                     ScaleCheck scale) implements AutoCloseable {

    /**
     * Connects for an image: the run's plan (health, GetInfo, resolution), then a client with it.
     *
     * @param imageData the image
     * @param settings  settings from the preferences
     * @param key       identifies the settings and token
     * @return the session
     */
    static PromptSession open(ImageData<BufferedImage> imageData, DetectionSettings settings, String key) {
        ImageServer<BufferedImage> server = ImageServerTileSource.requireRgb(imageData.getServer());
        RunPlan plan = RunPlan.fetch(settings, ServerToken.fallback(), ImageServerTileSource.pixelSizeMicrons(server));
        PromptWindows windows = new PromptWindows(PromptWindows.DEFAULT_WINDOW_PIXELS, plan.downsample(),
                server.getWidth(), server.getHeight(), plan.maxTilePixels());
        return new PromptSession(key, PathoSamClient.connect(plan.options(), GeometryTools.getDefaultFactory()), windows,
                new DetectionObjects(plan.classColours()), plan.scale());
    }

    @Override
    public void close() {
        client.close();
    }
}
