package qupath.ext.pathosam;

import io.github.pathosam.client.ClientOptions;
import io.github.pathosam.client.DetectionSettings;
import io.github.pathosam.client.ModelSelection;
import io.github.pathosam.client.PathoSamClient;
import io.github.pathosam.client.PathoSamException;
import io.github.pathosam.client.PromptWindows;
import io.github.pathosam.grpc.v1.ModelInfo;
import io.github.pathosam.grpc.v1.ServerInfo;
import qupath.lib.images.ImageData;
import qupath.lib.images.servers.ServerTools;
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
 */
record PromptSession(String key, PathoSamClient client, PromptWindows windows, DetectionObjects objects)
        implements AutoCloseable {

    /**
     * Connects for an image: health, GetInfo, then a client at the image's working resolution.
     *
     * @param imageData the image
     * @param settings  settings from the preferences
     * @param key       identifies the settings and token
     * @return the session
     */
    static PromptSession open(ImageData<BufferedImage> imageData, DetectionSettings settings, String key) {
        if (!imageData.getServer().isRGB())
            throw new PathoSamException("CLIENT", PathoSamResources.format("error.notRgb",
                    ServerTools.getDisplayableImageName(imageData.getServer())), null);
        String token = PathoSamPreferences.token(settings.token().orElse(null));
        ServerInfo info;
        try (PathoSamClient probe = PathoSamClient.connect(settings.connectionOptions().toBuilder().token(token).build())) {
            probe.checkHealth();
            info = probe.getInfo();
        }
        ModelInfo model = ModelSelection.select(info, settings.model());
        double downsample = settings.resolveDownsample(model.getWorkingPixelSizeUm(),
                DetectionRun.pixelSizeMicrons(imageData.getServer()));
        int tileSize = settings.resolveTileSize(model.getDefaultTileSize());
        ClientOptions options = settings.toClientOptions(downsample, tileSize, settings.resolveHalo(model.getDefaultHalo(), tileSize))
                .toBuilder().token(token).model(model.getName()).build();
        PromptWindows windows = new PromptWindows(PromptWindows.DEFAULT_WINDOW_PIXELS, downsample,
                imageData.getServer().getWidth(), imageData.getServer().getHeight(), info.getLimits().getMaxTileSize());
        return new PromptSession(key, PathoSamClient.connect(options, GeometryTools.getDefaultFactory()), windows,
                new DetectionObjects(ModelSelection.classColours(model)));
    }

    @Override
    public void close() {
        client.close();
    }
}
