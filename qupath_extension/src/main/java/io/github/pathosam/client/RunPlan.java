package io.github.pathosam.client;

import io.github.pathosam.grpc.v1.ModelInfo;
import io.github.pathosam.grpc.v1.ServerInfo;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * What a run on one image will do, decided once from the user's settings, the server's
 * {@code GetInfo} answer and the image's pixel size: which model, at what downsample, with which
 * tiles and halo, and the client options that carry all of it.
 *
 * <p>The automatic detection, an interactive prompt session and the server status all start with
 * this sequence (health, GetInfo, pick the model, resolve resolution and tiles); this is its one
 * home, so the three cannot drift apart.
 *
 * @param server     the server's GetInfo answer (versions, device, limits)
 * @param model      the chosen model
 * @param downsample level-0 pixels per working pixel for this image
 * @param tileSize   inner tile edge in working pixels
 * @param halo       halo on each side of a tile in working pixels
 * @param options    client options for the run: address, token, model name, tiles, downsample, parameters
 * @param scale      whether the pixels the model will see suit it (warn before the run when not)
 */
public record RunPlan(ServerInfo server, ModelInfo model, double downsample, int tileSize, int halo,
                      ClientOptions options, ScaleCheck scale) {

    /** Checks that every part is there. */
    public RunPlan {
        Objects.requireNonNull(server, "server");
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(scale, "scale");
    }

    /**
     * Asks the server (health, then GetInfo) on a short-lived connection and plans the run.
     *
     * @param settings         the run's settings
     * @param fallbackToken    the token to send when the settings have none (e.g. from the user's
     *                         preferences or the environment), or null
     * @param imagePixelSizeUm the image's level-0 pixel size in µm; NaN or 0 when uncalibrated or
     *                         when there is no image (the plan then runs at full resolution)
     * @return the plan
     * @throws ServerUnavailableException when no server answers
     * @throws PathoSamException          when the server fails, or has no such model
     * @throws IllegalArgumentException   when the settings and the model give invalid options
     */
    public static RunPlan fetch(DetectionSettings settings, String fallbackToken, double imagePixelSizeUm) {
        ServerInfo info;
        ClientOptions connection = settings.connectionOptions().toBuilder()
                .token(token(settings, fallbackToken)).build();
        try (PathoSamClient probe = PathoSamClient.connect(connection)) {
            probe.checkHealth();
            info = probe.getInfo();
        }
        return of(settings, fallbackToken, info, imagePixelSizeUm);
    }

    /**
     * Plans a run from a GetInfo answer already at hand; no I/O.
     *
     * @param settings         the run's settings
     * @param fallbackToken    the token to send when the settings have none, or null
     * @param info             the server's GetInfo answer
     * @param imagePixelSizeUm the image's level-0 pixel size in µm; NaN or 0 when unknown
     * @return the plan: the settings' own values where they set one, the model's otherwise
     * @throws PathoSamException        with status NOT_FOUND when the server has no such model
     * @throws IllegalArgumentException when the settings and the model give invalid options (e.g. a
     *                                  pixel size that makes the downsample smaller than 0.01)
     */
    public static RunPlan of(DetectionSettings settings, String fallbackToken, ServerInfo info, double imagePixelSizeUm) {
        ModelInfo model = ModelSelection.select(info, settings.model());
        double downsample = settings.resolveDownsample(model.getWorkingPixelSizeUm(), imagePixelSizeUm);
        int tileSize = settings.resolveTileSize(model.getDefaultTileSize());
        int halo = settings.resolveHalo(model.getDefaultHalo(), tileSize);
        AnalysisOptions analysis = settings.analysis().withPixelSize(imagePixelSizeUm);
        if (analysis.haloNeeded(downsample) > halo) {
            // Cells at tile seams need twice the expansion as halo; a wider halo leaves less room for the core.
            halo = analysis.haloNeeded(downsample);
            if (model.getInputEdge() > 0 && tileSize + 2 * halo > model.getInputEdge())
                tileSize = Math.max(SettingRules.MIN_TILE_SIZE, model.getInputEdge() - 2 * halo);
        }
        SettingRules.checkModelWindow(tileSize, halo, model.getInputEdge());
        // The model's own name, not the settings' (empty for the default): every call of the run
        // then names the model the plan was made for, even if the server's default changes meanwhile.
        ClientOptions options = settings.toClientOptions(downsample, tileSize, halo).toBuilder()
                .token(token(settings, fallbackToken))
                .model(model.getName())
                .analysis(analysis)
                .build();
        boolean chosen = settings.pixelSizeUm().isPresent() || settings.downsample().isPresent();
        ScaleCheck scale = ScaleCheck.of(model.getName(), imagePixelSizeUm, downsample, model.getWorkingPixelSizeUm(), chosen);
        return new RunPlan(info, model, downsample, tileSize, halo, options, scale);
    }

    /**
     * What the run's results should carry so that anyone can tell how they were made (the workflow
     * step, logs): model, weights, server, scale and tiles. Never the token.
     *
     * @return name to value, in a stable order; pixel sizes in µm, NaN where the image is uncalibrated
     */
    public Map<String, Object> provenance() {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("model", model.getName());
        if (!model.getSource().isEmpty())
            p.put("weights", model.getSource());
        p.put("server version", server.getServerVersion());
        p.put("device", server.getDevice());
        p.put("model pixel size (µm)", scale.modelPixelSizeUm() > 0 ? scale.modelPixelSizeUm() : "unknown");
        p.put("image pixel size (µm)", Double.isNaN(scale.imagePixelSizeUm()) ? "uncalibrated" : scale.imagePixelSizeUm());
        p.put("working pixel size (µm)", Double.isNaN(scale.runPixelSizeUm()) ? "uncalibrated" : scale.runPixelSizeUm());
        p.put("downsample", downsample);
        p.put("tile", tileSize + " + " + halo + " halo");
        for (var w : model.getWeightsList())
            p.put("sha256 " + w.getRole(), w.getName() + " " + w.getSha256());
        if (!model.getPrecision().isEmpty())
            p.put("precision", model.getPrecision()
                    + (model.getClassPrecision().isEmpty() ? "" : " (classes " + model.getClassPrecision() + ")"));
        AnalysisOptions a = options.analysis();
        if (a.measureShape() || a.measureIntensity())
            p.put("measurements", (a.measureShape() ? "shape " : "") + (a.measureIntensity() ? "intensity (H&E default)" : ""));
        if (a.cells())
            p.put("cell expansion", a.cellExpansion() + (a.pixelSizeUm() > 0 ? " µm" : " px")
                    + (a.cellConstrainScale() > 0 ? ", constrained to " + a.cellConstrainScale() + " x nucleus" : ""));
        return p;
    }

    /**
     * Refuses a run that asks for classes from a model that cannot give them, before any tile is sent.
     *
     * @return this plan
     * @throws PathoSamException with status FAILED_PRECONDITION, see {@link ModelSelection#checkCanClassify}
     */
    public RunPlan requireClassesIfAsked() {
        ModelSelection.checkCanClassify(model, options.classify());
        return this;
    }

    /** @return class name to display colour (0xRRGGBB) of the model, in class-id order; empty when it cannot classify */
    public Map<String, Integer> classColours() {
        return ModelSelection.classColours(model);
    }

    /** @return the largest tile edge in pixels the server accepts (GetInfo limits), 0 for no limit */
    public int maxTilePixels() {
        return server.getLimits().getMaxTileSize();
    }

    /** One line for logs: the model, resolution and options (never the token, never the whole GetInfo). */
    @Override
    public String toString() {
        return "RunPlan[" + model.getName() + ", downsample=" + downsample + ", tile=" + tileSize + "+" + halo
                + ", working pixel size=" + scale.runPixelSizeUm() + " µm (model " + scale.modelPixelSizeUm() + " µm), "
                + options + "]";
    }

    private static String token(DetectionSettings settings, String fallbackToken) {
        return settings.token().orElse(fallbackToken);
    }
}
