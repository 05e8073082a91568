package io.github.pathosam.client;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * Immutable settings of a {@link PathoSamClient}: where the server is, how to talk to it, and the
 * segmentation parameters sent with each region. Build one with {@link #builder()}; every value is
 * checked when {@link Builder#build()} runs, so an instance is always valid.
 */
public final class ClientOptions {

    /** Port {@code pathosam serve} listens on unless told otherwise. */
    public static final int DEFAULT_PORT = 50051;

    private final ServerTarget target;
    private final boolean tls;
    private final Path trustCertificates;
    private final String token;
    private final Duration deadline;
    private final Duration streamIdleTimeout;
    private final String model;
    private final int tileSize;
    private final int halo;
    private final double downsample;
    private final TileEncoding encoding;
    private final Boolean classify;
    private final Double simplifyTolerance;
    private final Boolean skipBackground;
    private final AnalysisOptions analysis;

    private ClientOptions(Builder b, ServerTarget target) {
        this.target = target;
        tls = b.tls || b.trustCertificates != null;
        trustCertificates = b.trustCertificates;
        token = b.token;
        deadline = b.deadline;
        streamIdleTimeout = b.streamIdleTimeout;
        model = b.model;
        tileSize = b.tileSize;
        halo = b.halo;
        downsample = b.downsample;
        encoding = b.encoding;
        classify = b.classify;
        simplifyTolerance = b.simplifyTolerance;
        skipBackground = b.skipBackground;
        analysis = b.analysis;
    }

    /** @return a builder with the defaults: 127.0.0.1:50051, plaintext, 384 px tiles, 64 px halo, downsample 1 */
    public static Builder builder() {
        return new Builder();
    }

    /** @return a builder preset with these options */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.host = target.first().host();
        b.port = target.first().port();
        b.target = target;
        b.tls = tls;
        b.trustCertificates = trustCertificates;
        b.token = token;
        b.deadline = deadline;
        b.streamIdleTimeout = streamIdleTimeout;
        b.model = model;
        b.tileSize = tileSize;
        b.halo = halo;
        b.downsample = downsample;
        b.encoding = encoding;
        b.classify = classify;
        b.simplifyTolerance = simplifyTolerance;
        b.skipBackground = skipBackground;
        b.analysis = analysis;
        return b;
    }

    /** @return the server's host name or address (of a pool: the first one's) */
    public String host() {
        return target.first().host();
    }

    /** @return the server's port (of a pool: the first one's) */
    public int port() {
        return target.first().port();
    }

    /** @return the server, servers or DNS name calls go to */
    public ServerTarget target() {
        return target;
    }

    /**
     * @return {@code host:port} with brackets around an IPv6 literal; for a pool the comma-separated
     *         list or {@code dns:///host:port}, as {@link ServerTarget#toString()} writes it
     */
    public String address() {
        return target.toString();
    }

    /** @return whether the channel uses TLS */
    public boolean tls() {
        return tls;
    }

    /** @return PEM file of certificates to trust instead of the system's, if any */
    public Optional<Path> trustCertificates() {
        return Optional.ofNullable(trustCertificates);
    }

    /** @return the bearer token sent as {@code authorization: Bearer ...}, if any */
    public Optional<String> token() {
        return Optional.ofNullable(token);
    }

    /** @return the deadline of each unary call (GetInfo, SegmentTile, Prompt, health) */
    public Duration deadline() {
        return deadline;
    }

    /** @return how long a region stream may go without any message from the server before it fails */
    public Duration streamIdleTimeout() {
        return streamIdleTimeout;
    }

    /** @return the model name; empty for the server's default model */
    public String model() {
        return model;
    }

    /** @return the inner tile edge in tile pixels */
    public int tileSize() {
        return tileSize;
    }

    /** @return the halo on each side of a tile, in tile pixels */
    public int halo() {
        return halo;
    }

    /** @return level-0 pixels per tile pixel */
    public double downsample() {
        return downsample;
    }

    /** @return how tile pixels are encoded on the wire */
    public TileEncoding encoding() {
        return encoding;
    }

    /** @return whether to ask for classes; empty for the server's default */
    public Optional<Boolean> classify() {
        return Optional.ofNullable(classify);
    }

    /** @return polygon simplification tolerance in tile pixels; empty for the server's default */
    public Optional<Double> simplifyTolerance() {
        return Optional.ofNullable(simplifyTolerance);
    }

    /** @return whether the server skips tiles of glass (no tissue); empty for the server's default (off) */
    public Optional<Boolean> skipBackground() {
        return Optional.ofNullable(skipBackground);
    }

    /** @return what the server measures and whether it grows cells ({@link AnalysisOptions#NONE} by default) */
    public AnalysisOptions analysis() {
        return analysis;
    }

    @Override
    public String toString() {
        // Never print the token.
        return "ClientOptions[" + address() + (tls ? ", tls" : "") + (token != null ? ", token" : "")
                + ", model=" + (model.isEmpty() ? "<default>" : model) + ", tile=" + tileSize + "+" + halo
                + ", downsample=" + downsample + ", " + encoding + "]";
    }

    /** Validating builder of {@link ClientOptions}. */
    public static final class Builder {
        private String host = "127.0.0.1";
        private int port = DEFAULT_PORT;
        private ServerTarget target;
        private boolean tls;
        private Path trustCertificates;
        private String token;
        private Duration deadline = Duration.ofMinutes(2);
        private Duration streamIdleTimeout = Duration.ofMinutes(10);
        private String model = "";
        private int tileSize = TilePlanner.DEFAULT_TILE_SIZE;
        private int halo = TilePlanner.DEFAULT_HALO;
        private double downsample = 1.0;
        private TileEncoding encoding = TileEncoding.RAW_RGB8;
        private Boolean classify;
        private Double simplifyTolerance;
        private Boolean skipBackground;
        private AnalysisOptions analysis = AnalysisOptions.NONE;

        private Builder() {
        }

        /**
         * @param host server host name or address (default 127.0.0.1)
         * @return this builder
         */
        public Builder host(String host) {
            this.host = Objects.requireNonNull(host, "host").strip();
            this.target = null;
            return this;
        }

        /**
         * @param port server port, 1-65535 (default 50051)
         * @return this builder
         */
        public Builder port(int port) {
            this.port = port;
            this.target = null;
            return this;
        }

        /**
         * @param target one server, a pool of servers or a DNS name (replaces {@link #host} and {@link #port})
         * @return this builder
         */
        public Builder target(ServerTarget target) {
            this.target = Objects.requireNonNull(target, "target");
            return this;
        }

        /**
         * @param servers what a user typed: {@code host:port}, {@code host1:port1, host2:port2} or
         *                {@code dns:///host:port}
         * @return this builder
         * @throws IllegalArgumentException when the text is not one of these forms
         */
        public Builder servers(String servers) {
            return target(ServerTarget.parse(servers));
        }

        /**
         * @param tls whether to use TLS with the system's trusted certificates (default false)
         * @return this builder
         */
        public Builder tls(boolean tls) {
            this.tls = tls;
            return this;
        }

        /**
         * @param pemFile certificates to trust for TLS, e.g. a self-signed server's; implies TLS; null for none
         * @return this builder
         */
        public Builder trustCertificates(Path pemFile) {
            this.trustCertificates = pemFile;
            return this;
        }

        /**
         * @param token bearer token for a server that requires one; null or blank for none
         * @return this builder
         */
        public Builder token(String token) {
            this.token = token == null || token.isBlank() ? null : token.strip();
            return this;
        }

        /**
         * @param deadline deadline of each unary call, positive (default 2 minutes: a CPU server is slow)
         * @return this builder
         */
        public Builder deadline(Duration deadline) {
            this.deadline = Objects.requireNonNull(deadline, "deadline");
            return this;
        }

        /**
         * @param timeout how long a region stream may wait for any server message, positive (default 10 minutes)
         * @return this builder
         */
        public Builder streamIdleTimeout(Duration timeout) {
            this.streamIdleTimeout = Objects.requireNonNull(timeout, "timeout");
            return this;
        }

        /**
         * @param model a model name from GetInfo, e.g. {@code vit_b_histopathology}; null or blank for the server's default
         * @return this builder
         */
        public Builder model(String model) {
            this.model = model == null ? "" : model.strip();
            return this;
        }

        /**
         * @param tileSize inner tile edge in tile pixels, 16-4096 (default 384, PathoSAM's)
         * @return this builder
         */
        public Builder tileSize(int tileSize) {
            this.tileSize = tileSize;
            return this;
        }

        /**
         * @param halo context on each side of a tile in tile pixels, 0 to the tile size (default 64, PathoSAM's)
         * @return this builder
         */
        public Builder halo(int halo) {
            this.halo = halo;
            return this;
        }

        /**
         * @param downsample level-0 pixels per tile pixel, at least 0.01 (default 1: full resolution)
         * @return this builder
         */
        public Builder downsample(double downsample) {
            this.downsample = downsample;
            return this;
        }

        /**
         * @param encoding tile pixel encoding (default RAW_RGB8; PNG for slow links)
         * @return this builder
         */
        public Builder encoding(TileEncoding encoding) {
            this.encoding = Objects.requireNonNull(encoding, "encoding");
            return this;
        }

        /**
         * @param classify whether to ask for nucleus classes; null for the server's default
         * @return this builder
         */
        public Builder classify(Boolean classify) {
            this.classify = classify;
            return this;
        }

        /**
         * @param tolerance Douglas-Peucker tolerance in tile pixels, 0-1; null for the server's default
         * @return this builder
         */
        public Builder simplifyTolerance(Double tolerance) {
            this.simplifyTolerance = tolerance;
            return this;
        }

        /**
         * @param analysis measurements and cells to ask the server for (null: none)
         * @return this builder
         */
        public Builder analysis(AnalysisOptions analysis) {
            this.analysis = analysis == null ? AnalysisOptions.NONE : analysis;
            return this;
        }

        /**
         * @param skip whether the server leaves tiles that hold no tissue (glass) unencoded; they return no
         *             nuclei and count in {@link RegionSummary#tilesSkipped()}; null for the server's default (off)
         * @return this builder
         */
        public Builder skipBackground(Boolean skip) {
            this.skipBackground = skip;
            return this;
        }

        /**
         * @return the options
         * @throws IllegalArgumentException naming the first invalid value
         */
        public ClientOptions build() {
            // The same rules as a script's builder (DetectionSettingsBuilder): one place, ServerAddress
            // for the address and SettingRules for the rest.
            ServerTarget server = target != null ? target : ServerTarget.of(new ServerAddress(host, port));
            SettingRules.checkToken(token);
            if (deadline.isNegative() || deadline.isZero())
                throw new IllegalArgumentException("deadline must be positive, not " + deadline);
            if (streamIdleTimeout.isNegative() || streamIdleTimeout.isZero())
                throw new IllegalArgumentException("streamIdleTimeout must be positive, not " + streamIdleTimeout);
            SettingRules.checkTileSize("tileSize", tileSize);
            SettingRules.checkHalo("halo", halo, tileSize);
            SettingRules.checkDownsample("downsample", downsample);
            SettingRules.checkSimplify("simplifyTolerance", simplifyTolerance);
            return new ClientOptions(this, server);
        }
    }
}
