package io.github.pathosam.client;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Objects;
import java.util.function.Function;

/**
 * Validating builder of {@link DetectionSettings}. Each option is checked when {@link #build()}
 * runs, so a script fails at the builder, with the option's name in the message, rather than
 * halfway through an image.
 *
 * @param <T> what {@link #build()} returns: the settings, or (in QuPath) the detector made from them
 */
public final class DetectionSettingsBuilder<T> {
    private final Function<DetectionSettings, T> finisher;
    ServerTarget server = ServerTarget.of(new ServerAddress("127.0.0.1", ClientOptions.DEFAULT_PORT));
    private String serverText;
    String token;
    boolean tls;
    Path trustCertificates;
    String model = "";
    Integer tileSize;
    Integer halo;
    Double pixelSizeUm;
    Double downsample;
    TileEncoding encoding = TileEncoding.RAW_RGB8;
    private String encodingText;
    Double simplifyTolerance;
    Boolean classify;
    boolean replace;
    Boolean skipBackground;
    boolean measureShape;
    boolean measureIntensity;
    double cellExpansion;
    double cellConstrainScale;
    private String measurementsText;

    DetectionSettingsBuilder(Function<DetectionSettings, T> finisher) {
        this.finisher = Objects.requireNonNull(finisher, "finisher");
    }

    /**
     * @param address {@code host:port} of a running {@code pathosam serve} (default 127.0.0.1:50051);
     *                a bare host uses port 50051, IPv6 literals go in brackets. Several servers,
     *                comma-separated ({@code gpu1:50051, gpu2:50051}), or {@code dns:///host:port} make
     *                a pool that gRPC balances round robin; a region's unanswered tiles go to another
     *                server when one fails
     * @return this builder
     */
    public DetectionSettingsBuilder<T> server(String address) {
        this.serverText = address == null ? "" : address;
        return this;
    }

    /**
     * @param token bearer token of a server started with {@code --token}; null or blank for none.
     *              Not recorded in the workflow history.
     * @return this builder
     */
    public DetectionSettingsBuilder<T> token(String token) {
        this.token = token == null || token.isBlank() ? null : token.strip();
        return this;
    }

    /**
     * @param tls whether to connect with TLS (default false: a server on this machine or a trusted LAN)
     * @return this builder
     */
    public DetectionSettingsBuilder<T> tls(boolean tls) {
        this.tls = tls;
        return this;
    }

    /**
     * @param pemFile PEM file of the certificate(s) to trust, e.g. the self-signed certificate given to
     *                {@code pathosam serve --tls-cert}; implies TLS; null for the system's trusted roots
     * @return this builder
     */
    public DetectionSettingsBuilder<T> trustCertificates(String pemFile) {
        this.trustCertificates = pemFile == null || pemFile.isBlank() ? null : Path.of(pemFile.strip());
        return this;
    }

    /**
     * @param model model name as the server lists it, e.g. {@code vit_b_histopathology};
     *              null or blank for the server's default model
     * @return this builder
     */
    public DetectionSettingsBuilder<T> model(String model) {
        this.model = model == null ? "" : model.strip();
        return this;
    }

    /**
     * @param tileSize inner tile edge in working pixels, 16-4096 (default: the model's, 384 for PathoSAM);
     *                 tileSize + 2 x halo must fit the model's input window (512 px for PathoSAM)
     * @return this builder
     */
    public DetectionSettingsBuilder<T> tileSize(int tileSize) {
        this.tileSize = tileSize;
        return this;
    }

    /**
     * @param halo context added on each side of a tile in working pixels, 0 to the tile size
     *             (default: the model's, 64 for PathoSAM); nuclei larger than the halo may be cut
     * @return this builder
     */
    public DetectionSettingsBuilder<T> halo(int halo) {
        this.halo = halo;
        return this;
    }

    /**
     * @param micrometres pixel size to run the model at, positive (default: the model's, 0.25 µm
     *                    for PathoSAM); images without calibration run at full resolution.
     *                    Replaces an earlier {@link #downsample(double)}.
     * @return this builder
     */
    public DetectionSettingsBuilder<T> pixelSize(double micrometres) {
        this.pixelSizeUm = micrometres;
        this.downsample = null;
        return this;
    }

    /**
     * @param downsample fixed level-0 pixels per working pixel, at least 0.01, whatever the image's
     *                   calibration. Replaces an earlier {@link #pixelSize(double)}.
     * @return this builder
     */
    public DetectionSettingsBuilder<T> downsample(double downsample) {
        this.downsample = downsample;
        this.pixelSizeUm = null;
        return this;
    }

    /**
     * @param encoding {@code raw} (default: fastest on a LAN) or {@code png} (smaller, for slow links)
     * @return this builder
     */
    public DetectionSettingsBuilder<T> encoding(String encoding) {
        this.encodingText = encoding == null ? "" : encoding;
        return this;
    }

    /**
     * @param encoding tile pixel encoding
     * @return this builder
     */
    public DetectionSettingsBuilder<T> encoding(TileEncoding encoding) {
        this.encoding = Objects.requireNonNull(encoding, "encoding");
        this.encodingText = null;
        return this;
    }

    /**
     * @param tolerance polygon simplification in working pixels, 0 (exact pixel outlines) to 1
     *                  (default: the server's, 0.5)
     * @return this builder
     */
    public DetectionSettingsBuilder<T> simplify(double tolerance) {
        this.simplifyTolerance = tolerance;
        return this;
    }

    /**
     * @param classify whether nuclei get a class (Neoplastic, Inflammatory, ...); needs a model with
     *                 a semantic decoder (default: the server's)
     * @return this builder
     */
    public DetectionSettingsBuilder<T> classify(boolean classify) {
        this.classify = classify;
        return this;
    }

    /**
     * @param replace whether to first remove earlier PathoSAM detections whose centre lies in the
     *                regions being detected (default false)
     * @return this builder
     */
    public DetectionSettingsBuilder<T> replace(boolean replace) {
        this.replace = replace;
        return this;
    }

    /**
     * @param skip whether the server leaves tiles that hold no tissue (glass) unencoded: they cost no model
     *             time and return no nuclei (an isolated nucleus on glass still keeps its tile). Default:
     *             on when the whole image is detected, off for annotations (they already are tissue)
     * @return this builder
     */
    public DetectionSettingsBuilder<T> skipBackground(boolean skip) {
        this.skipBackground = skip;
        return this;
    }

    /**
     * Adds QuPath's shape measurements (area, length, circularity, solidity, max and min diameter, in µm
     * when the image is calibrated) to every nucleus and cell; computed by the server.
     *
     * @return this builder
     */
    public DetectionSettingsBuilder<T> measureShape() {
        this.measureShape = true;
        return this;
    }

    /**
     * Adds hematoxylin and eosin optical density statistics (mean, median, min, max, std.dev.) by colour
     * deconvolution with QuPath's "H&amp;E default" stains, per nucleus (and cytoplasm and cell).
     *
     * @return this builder
     */
    public DetectionSettingsBuilder<T> measureIntensity() {
        this.measureIntensity = true;
        return this;
    }

    /**
     * @param names comma-separated {@code shape}, {@code intensity} or {@code all} (empty: none)
     * @return this builder
     */
    public DetectionSettingsBuilder<T> measurements(String names) {
        this.measurementsText = names == null ? "" : names;
        return this;
    }

    /**
     * @param distance grow each nucleus into a cell by this distance, in µm (px when the image is
     *                 uncalibrated), stopped where it meets a neighbour's cell; 0 = nuclei only (default).
     *                 The halo is widened to twice the distance where needed
     * @return this builder
     */
    public DetectionSettingsBuilder<T> cellExpansion(double distance) {
        this.cellExpansion = distance;
        return this;
    }

    /**
     * @param scale keep each cell inside its nucleus scaled by this factor about its centre (e.g. 1.5),
     *              so that a small lone nucleus does not get a wide ring; 0 = no limit (default)
     * @return this builder
     */
    public DetectionSettingsBuilder<T> cellConstrainScale(double scale) {
        this.cellConstrainScale = scale;
        return this;
    }

    /**
     * @return the object made from the validated settings
     * @throws IllegalArgumentException naming the first invalid option
     */
    public T build() {
        if (serverText != null)
            server = ServerTarget.parse(serverText);
        if (encodingText != null)
            encoding = parseEncoding(encodingText);
        // The same rules as ClientOptions (one place, SettingRules), named as this builder spells them.
        SettingRules.checkToken(token);
        if (tileSize != null)
            SettingRules.checkTileSize("tileSize", tileSize);
        // Without a tile size the model's decides; the halo is clamped to it then (resolveHalo).
        if (halo != null)
            SettingRules.checkHalo("halo", halo, tileSize != null ? tileSize : SettingRules.MAX_TILE_SIZE);
        if (pixelSizeUm != null)
            SettingRules.checkPixelSize("pixelSize", pixelSizeUm);
        if (downsample != null)
            SettingRules.checkDownsample("downsample", downsample);
        SettingRules.checkSimplify("simplify", simplifyTolerance);
        if (tileSize != null && halo != null)
            SettingRules.checkModelWindow(tileSize, halo, 0);
        if (measurementsText != null)
            parseMeasurements(measurementsText);
        new AnalysisOptions(measureShape, measureIntensity, cellExpansion, cellConstrainScale, 0);  // checks ranges
        if (trustCertificates != null && !Files.isReadable(trustCertificates))
            throw new IllegalArgumentException("trustCertificates: cannot read " + trustCertificates);
        return finisher.apply(new DetectionSettings(this));
    }

    private void parseMeasurements(String text) {
        for (String part : text.split(",")) {
            switch (part.strip().toLowerCase(Locale.ROOT)) {
                case "" -> { }
                case "shape" -> measureShape = true;
                case "intensity" -> measureIntensity = true;
                case "all" -> { measureShape = true; measureIntensity = true; }
                default -> throw new IllegalArgumentException(
                        "measurements must be shape, intensity or all (comma-separated), not '" + part.strip() + "'");
            }
        }
    }

    private static TileEncoding parseEncoding(String text) {
        return switch (text.strip().toLowerCase(Locale.ROOT)) {
            case "raw", "raw_rgb8", "rgb" -> TileEncoding.RAW_RGB8;
            case "png" -> TileEncoding.PNG;
            default -> throw new IllegalArgumentException("encoding must be 'raw' or 'png', not '" + text + "'");
        };
    }
}
