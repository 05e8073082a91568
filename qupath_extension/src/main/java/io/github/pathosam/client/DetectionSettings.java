package io.github.pathosam.client;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * Immutable, validated settings of one automatic nucleus detection: which server and model, at what
 * resolution, with which tiles, and what to do with the results. The QuPath extension's scripting
 * builder ({@code PathoSam.builder()}) is a {@link DetectionSettingsBuilder} of these; this class holds everything of
 * it that does not need QuPath, so that it is tested without QuPath.
 *
 * <p>Unset values follow the model: tile size, halo and working pixel size come from the server's
 * {@code GetInfo} for the chosen model, and classification / simplification from its defaults.
 * {@link #toScript} writes the settings back as builder code for QuPath's workflow history; the
 * token is never written there (it is a secret), the extension reads it from its preferences or
 * the {@code PATHOSAM_TOKEN} environment variable instead.
 */
public final class DetectionSettings {

    private final ServerTarget server;
    private final String token;
    private final boolean tls;
    private final Path trustCertificates;
    private final String model;
    private final Integer tileSize;
    private final Integer halo;
    private final Double pixelSizeUm;
    private final Double downsample;
    private final TileEncoding encoding;
    private final Double simplifyTolerance;
    private final Boolean classify;
    private final boolean replace;
    private final Boolean skipBackground;
    private final AnalysisOptions analysis;

    DetectionSettings(DetectionSettingsBuilder<?> b) {
        server = b.server;
        token = b.token;
        tls = b.tls || b.trustCertificates != null;
        trustCertificates = b.trustCertificates;
        model = b.model;
        tileSize = b.tileSize;
        halo = b.halo;
        pixelSizeUm = b.pixelSizeUm;
        downsample = b.downsample;
        encoding = b.encoding;
        simplifyTolerance = b.simplifyTolerance;
        classify = b.classify;
        replace = b.replace;
        skipBackground = b.skipBackground;
        analysis = new AnalysisOptions(b.measureShape, b.measureIntensity, b.cellExpansion, b.cellConstrainScale, 0);
    }

    /** @return measurements and cells to ask for (the image's pixel size is added per image, see {@link RunPlan}) */
    public AnalysisOptions analysis() {
        return analysis;
    }

    /** @return a builder whose {@code build()} returns the settings themselves */
    public static DetectionSettingsBuilder<DetectionSettings> builder() {
        return new DetectionSettingsBuilder<>(Function.identity());
    }

    /**
     * @param finisher turns the validated settings into the object {@code build()} returns
     * @param <T>      that object's type
     * @return a builder with the defaults: 127.0.0.1:50051, the server's default model, the model's
     *         tiles and resolution, raw pixels, no replacement
     */
    public static <T> DetectionSettingsBuilder<T> builder(Function<DetectionSettings, T> finisher) {
        return new DetectionSettingsBuilder<>(finisher);
    }

    /** @return the server, pool of servers or DNS name the run talks to */
    public ServerTarget server() {
        return server;
    }

    /** @return the bearer token, if any */
    public Optional<String> token() {
        return Optional.ofNullable(token);
    }

    /** @return whether the channel uses TLS */
    public boolean tls() {
        return tls;
    }

    /** @return the model name; empty for the server's default */
    public String model() {
        return model;
    }

    /** @return the requested inner tile edge in working pixels; empty for the model's default */
    public Optional<Integer> tileSize() {
        return Optional.ofNullable(tileSize);
    }

    /** @return the requested halo in working pixels; empty for the model's default */
    public Optional<Integer> halo() {
        return Optional.ofNullable(halo);
    }

    /** @return the requested working pixel size in µm; empty for the model's own */
    public Optional<Double> pixelSizeUm() {
        return Optional.ofNullable(pixelSizeUm);
    }

    /** @return the requested fixed downsample; empty to derive it from pixel sizes */
    public Optional<Double> downsample() {
        return Optional.ofNullable(downsample);
    }

    /** @return how tile pixels travel */
    public TileEncoding encoding() {
        return encoding;
    }

    /** @return polygon simplification tolerance in working pixels; empty for the server's default */
    public Optional<Double> simplifyTolerance() {
        return Optional.ofNullable(simplifyTolerance);
    }

    /** @return whether to ask for classes; empty for the server's default */
    public Optional<Boolean> classify() {
        return Optional.ofNullable(classify);
    }

    /** @return whether earlier PathoSAM detections in the regions are removed first ({@link ReplacementRule}) */
    public boolean replace() {
        return replace;
    }

    /**
     * @return whether tiles of glass are skipped, as set on the builder; empty to decide per run
     *         ({@link #resolveSkipBackground(boolean)}: on for the whole image, off for annotations)
     */
    public Optional<Boolean> skipBackground() {
        return Optional.ofNullable(skipBackground);
    }

    /**
     * A user-drawn annotation already is where the tissue is, so its tiles are all sent unless asked
     * otherwise; a whole slide is often more than half glass, whose tiles the server then need not encode.
     *
     * @param wholeImage whether the run covers the whole image (no annotation)
     * @return whether the server should skip tiles that hold no tissue
     */
    public boolean resolveSkipBackground(boolean wholeImage) {
        return skipBackground != null ? skipBackground : wholeImage;
    }

    /**
     * @param modelDefault the model's {@code default_tile_size}; 0 when the server does not say
     * @return the tile size to use
     */
    public int resolveTileSize(int modelDefault) {
        return tileSize != null ? tileSize : modelDefault > 0 ? modelDefault : TilePlanner.DEFAULT_TILE_SIZE;
    }

    /**
     * @param modelDefault the model's {@code default_halo}; 0 when the server does not say
     * @param tileSize     the resolved tile size
     * @return the halo to use, never more than the tile size
     */
    public int resolveHalo(int modelDefault, int tileSize) {
        int h = halo != null ? halo : modelDefault > 0 ? modelDefault : TilePlanner.DEFAULT_HALO;
        return Math.min(h, tileSize);
    }

    /**
     * @param modelPixelSizeUm the model's {@code working_pixel_size_um}; 0 when unknown
     * @param imagePixelSizeUm the image's level-0 pixel size; 0 or NaN when uncalibrated
     * @return the fixed downsample if one was set, else the working pixel size (the requested one,
     *         or the model's) over the image's, or 1 when a size is unknown
     */
    public double resolveDownsample(double modelPixelSizeUm, double imagePixelSizeUm) {
        if (downsample != null)
            return downsample;
        return WorkingResolution.downsample(pixelSizeUm != null ? pixelSizeUm : modelPixelSizeUm, imagePixelSizeUm);
    }

    /**
     * @param downsample level-0 pixels per working pixel for this image
     * @param tileSize   resolved tile size
     * @param halo       resolved halo
     * @return client options for one image; background skipping as set on the builder (unset: the
     *         server's default, off; a run over the whole image turns it on, see {@link #resolveSkipBackground})
     * @throws IllegalArgumentException when the combination is invalid (e.g. downsample below 0.01)
     */
    public ClientOptions toClientOptions(double downsample, int tileSize, int halo) {
        return ClientOptions.builder()
                .target(server)
                .tls(tls)
                .trustCertificates(trustCertificates)
                .token(token)
                .model(model)
                .tileSize(tileSize)
                .halo(halo)
                .downsample(downsample)
                .encoding(encoding)
                .classify(classify)
                .simplifyTolerance(simplifyTolerance)
                .skipBackground(skipBackground)
                .analysis(analysis)
                .build();
    }

    /** @return client options for calls that send no pixels (health, GetInfo) */
    public ClientOptions connectionOptions() {
        return toClientOptions(1.0, TilePlanner.DEFAULT_TILE_SIZE, TilePlanner.DEFAULT_HALO);
    }

    /**
     * @return the settings that differ from the defaults, by builder method name, token excluded;
     *         for QuPath's workflow step parameters and logs
     */
    public Map<String, Object> toMap() {
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("server", server.toString());
        if (tls)
            map.put("tls", true);
        if (trustCertificates != null)
            map.put("trustCertificates", trustCertificates.toString());
        if (!model.isEmpty())
            map.put("model", model);
        if (tileSize != null)
            map.put("tileSize", tileSize);
        if (halo != null)
            map.put("halo", halo);
        if (pixelSizeUm != null)
            map.put("pixelSize", pixelSizeUm);
        if (downsample != null)
            map.put("downsample", downsample);
        if (encoding != TileEncoding.RAW_RGB8)
            map.put("encoding", encoding.name().toLowerCase(Locale.ROOT));
        if (simplifyTolerance != null)
            map.put("simplify", simplifyTolerance);
        if (classify != null)
            map.put("classify", classify);
        if (replace)
            map.put("replace", true);
        if (skipBackground != null)
            map.put("skipBackground", skipBackground);
        if (analysis.measureShape() || analysis.measureIntensity())
            map.put("measurements", analysis.measureShape() && analysis.measureIntensity() ? "all"
                    : analysis.measureShape() ? "shape" : "intensity");
        if (analysis.cells())
            map.put("cellExpansion", analysis.cellExpansion());
        if (analysis.cellConstrainScale() > 0)
            map.put("cellConstrainScale", analysis.cellConstrainScale());
        return map;
    }

    /**
     * Writes these settings as builder code, one option per line, e.g.
     * {@code qupath.ext.pathosam.PathoSam.builder()\n    .server('localhost:50051')\n    ...\n    .build()}.
     *
     * @param factory the Groovy expression that returns a builder
     * @return Groovy code that rebuilds equal settings (without the token)
     */
    public String toScript(String factory) {
        StringBuilder sb = new StringBuilder(factory);
        for (Map.Entry<String, Object> e : toMap().entrySet())
            sb.append("\n    .").append(e.getKey()).append('(').append(groovyLiteral(e.getValue())).append(')');
        return sb.append("\n    .build()").toString();
    }

    /** Never includes the token. */
    @Override
    public String toString() {
        return "DetectionSettings" + toMap() + (token != null ? " +token" : "");
    }

    /**
     * @param value a String, Boolean or Number
     * @return its Groovy literal; strings single-quoted so that {@code $} is not interpolated
     */
    static String groovyLiteral(Object value) {
        if (value instanceof String s)
            return "'" + s.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r") + "'";
        if (value instanceof Double d)
            return d == Math.rint(d) && Math.abs(d) < 1e15 ? String.format(Locale.ROOT, "%.1f", d) : Double.toString(d);
        return String.valueOf(value);
    }
}
