package io.github.pathosam.client;

import io.github.pathosam.grpc.v1.GetInfoRequest;
import io.github.pathosam.grpc.v1.PathoSamGrpc;
import io.github.pathosam.grpc.v1.PromptObject;
import io.github.pathosam.grpc.v1.PromptRequest;
import io.github.pathosam.grpc.v1.PromptResponse;
import io.github.pathosam.grpc.v1.RegionStart;
import io.github.pathosam.grpc.v1.SegmentTileRequest;
import io.github.pathosam.grpc.v1.SegmentTileResponse;
import io.github.pathosam.grpc.v1.ServerInfo;
import io.github.pathosam.grpc.v1.Tile;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import org.locationtech.jts.geom.GeometryFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * A connection to a PathoSAM server.
 *
 * <p>Creating a client does no I/O; the channel connects on the first call. Unary calls carry the
 * deadline of {@link ClientOptions#deadline()}, and GetInfo, SegmentTile and Prompt are retried on
 * UNAVAILABLE with bounded backoff (they are idempotent). Region streams are flow-controlled and
 * cancellable, see {@link RegionCall}. The client is thread-safe; close it when done.
 *
 * <pre>{@code
 * try (PathoSamClient client = PathoSamClient.connect(ClientOptions.builder().port(50051).build())) {
 *     client.checkHealth();
 *     RegionSummary summary = client.segmentRegion(region, source, new RegionListener() {
 *         public void onNuclei(long tile, List<NucleusResult> nuclei) { ... }
 *     });
 * }
 * }</pre>
 */
public final class PathoSamClient implements AutoCloseable {

    /** Fully qualified name of the PathoSAM gRPC service, also its health-check service name. */
    public static final String SERVICE_NAME = "pathosam.v1.PathoSam";

    private static final Duration HEALTH_DEADLINE = Duration.ofSeconds(10);

    private final ClientOptions options;
    private final ManagedChannel channel;
    private final GeometryConverter converter;
    private final PromptDigests digests = new PromptDigests(256);

    private PathoSamClient(ClientOptions options, GeometryFactory factory) {
        this.options = options;
        this.channel = ChannelFactory.create(options);
        this.converter = new GeometryConverter(factory);
    }

    /**
     * @param options validated options
     * @return a client; nothing is connected until the first call
     */
    public static PathoSamClient connect(ClientOptions options) {
        return connect(options, new GeometryFactory());
    }

    /**
     * @param options validated options
     * @param factory factory for result geometries (QuPath passes its default one)
     * @return a client; nothing is connected until the first call
     */
    public static PathoSamClient connect(ClientOptions options, GeometryFactory factory) {
        return new PathoSamClient(Objects.requireNonNull(options, "options"), Objects.requireNonNull(factory, "factory"));
    }

    /** @return the options this client was made with */
    public ClientOptions options() {
        return options;
    }

    /**
     * Asks the standard gRPC health service whether the PathoSAM service is serving.
     *
     * @throws ServerUnavailableException with the message
     *         {@code no PathoSAM server at HOST:PORT — start one with `pathosam serve`} when nothing listens
     * @throws PathoSamException when the server answers but is not serving, or is not a PathoSAM server
     */
    public void checkHealth() {
        // After a failed attempt the channel backs off for up to minutes; a user pressing
        // "retry" right after starting the server must not wait for that.
        channel.resetConnectBackoff();
        HealthCheckResponse.ServingStatus status;
        try {
            status = HealthGrpc.newBlockingStub(channel)
                    .withDeadlineAfter(Math.min(HEALTH_DEADLINE.toMillis(), options.deadline().toMillis()), TimeUnit.MILLISECONDS)
                    .check(HealthCheckRequest.newBuilder().setService(SERVICE_NAME).build())
                    .getStatus();
        } catch (StatusRuntimeException e) {
            Status.Code code = e.getStatus().getCode();
            if (code == Status.Code.UNAVAILABLE)
                throw new ServerUnavailableException(Errors.noServer(options.address()), e);
            if (code == Status.Code.UNIMPLEMENTED || code == Status.Code.NOT_FOUND)
                throw new PathoSamException(code.name(), "the server at " + options.address()
                        + " does not report PathoSAM health; is it a PathoSAM server?", e);
            throw Errors.translate(e, options.address(), "the health check");
        }
        if (status != HealthCheckResponse.ServingStatus.SERVING)
            throw new PathoSamException("UNAVAILABLE", "the PathoSAM server at " + options.address()
                    + " is not serving (" + status + "); it may still be loading its model", null);
    }

    /**
     * @return server and model metadata: versions, device, models with their classes, limits
     * @throws PathoSamException when the call fails
     */
    public ServerInfo getInfo() {
        try {
            return blocking().getInfo(GetInfoRequest.getDefaultInstance());
        } catch (StatusRuntimeException e) {
            throw Errors.translate(e, options.address(), "GetInfo");
        }
    }

    /**
     * Plans the tiles of a region with this client's tile size, halo and downsample.
     *
     * @param region level-0 region, clipped to the image
     * @param source the image
     * @return the tiles
     */
    public List<PlannedTile> plan(PixelRect region, TileSource source) {
        return TilePlanner.plan(region, options.downsample(), options.tileSize(), options.halo(),
                source.width(), source.height());
    }

    /**
     * Prepares a region stream without starting it, so that another thread can
     * {@link RegionCall#cancel() cancel} it while {@link RegionCall#run()} blocks.
     *
     * @param region   level-0 region; clipped to the image
     * @param source   the image's pixels
     * @param listener receives nuclei, progress and the summary as they arrive
     * @return the call, to be {@link RegionCall#run() run} once
     * @throws IllegalArgumentException when the region does not overlap the image
     */
    public RegionCall newRegionCall(PixelRect region, TileSource source, RegionListener listener) {
        List<PlannedTile> tiles = plan(region, source);
        if (tiles.isEmpty())
            throw new IllegalArgumentException("region " + region + " does not overlap the "
                    + source.width() + "x" + source.height() + " image");
        PixelRect clipped = region.intersection(new PixelRect(0, 0, source.width(), source.height()));
        RegionStart start = RegionStart.newBuilder()
                .setModel(options.model())
                .setRegion(Protos.rect(clipped))
                .setDownsample(options.downsample())
                .setParams(Protos.params(options))
                .setRequestId(UUID.randomUUID().toString())
                // Lets the server tell a tile edge on the image border from a cut through tissue.
                .setImageWidth(source.width())
                .setImageHeight(source.height())
                .build();
        return new RegionCall(PathoSamGrpc.newStub(channel), start, tiles, source, options,
                Objects.requireNonNull(listener, "listener"), converter, channel::isShutdown);
    }

    /**
     * Segments a region and blocks until the summary arrives; interrupt the thread to cancel.
     *
     * @param region   level-0 region; clipped to the image
     * @param source   the image's pixels
     * @param listener receives nuclei, progress and the summary as they arrive
     * @return the server's summary
     * @see RegionCall#run()
     */
    public RegionSummary segmentRegion(PixelRect region, TileSource source, RegionListener listener) {
        return newRegionCall(region, source, listener).run();
    }

    /**
     * Segments one small region in a single unary call (the whole tile is owned; no halo logic).
     *
     * @param region level-0 region inside the image; at most the server's max_region_pixels
     * @param source the image's pixels
     * @return nuclei and summary
     * @throws PathoSamException when the call fails
     */
    public TileResult segmentTile(PixelRect region, TileSource source) {
        int w = TilePlanner.tilePixels(region.width(), options.downsample());
        int h = TilePlanner.tilePixels(region.height(), options.downsample());
        Tile tile = Tile.newBuilder()
                .setRegion(Protos.rect(region))
                .setCore(Protos.rect(region))
                .setImage(PixelEncoder.encode(read(source, region, w, h), w, h, options.encoding()))
                .build();
        SegmentTileRequest request = SegmentTileRequest.newBuilder()
                .setModel(options.model())
                .setTile(tile)
                .setDownsample(options.downsample())
                .setParams(Protos.params(options))
                .setImageWidth(source.width())
                .setImageHeight(source.height())
                .build();
        try {
            SegmentTileResponse response = blocking().segmentTile(request);
            return new TileResult(converter.toResults(response.getNucleiList()),
                    RegionSummary.fromProto(response.getSummary()));
        } catch (StatusRuntimeException e) {
            throw Errors.translate(e, options.address(), "SegmentTile");
        }
    }

    /**
     * Segments objects from point / box prompts inside a context window. When the server already
     * caches the window's embedding (it told this client the digest before), only the digest is
     * sent; if the server has evicted it meanwhile, the pixels follow in a second call.
     *
     * @param window  level-0 context window inside the image, read at this client's downsample
     * @param source  the image's pixels
     * @param objects prompts, one entry per object
     * @return one nucleus per object, in order
     * @throws PathoSamException with status UNIMPLEMENTED when the server has no prompt support yet
     */
    public PromptResult prompt(PixelRect window, TileSource source, List<PromptInput> objects) {
        int w = TilePlanner.tilePixels(window.width(), options.downsample());
        int h = TilePlanner.tilePixels(window.height(), options.downsample());
        byte[] rgb = read(source, window, w, h);
        String digest = PromptDigests.digest(rgb, w, h);
        PromptRequest.Builder request = PromptRequest.newBuilder()
                .setModel(options.model())
                .setWindow(Protos.rect(window))
                .setDownsample(options.downsample())
                .setDigest(digest)
                .setParams(Protos.params(options));
        for (PromptInput input : objects)
            request.addObjects(toProto(input));
        if (digests.contains(digest)) {
            try {
                return toResult(blocking().prompt(request.build()));
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() != Status.Code.FAILED_PRECONDITION)
                    throw Errors.translate(e, options.address(), "Prompt");
                digests.remove(digest); // evicted on the server: send the pixels
            }
        }
        request.setImage(PixelEncoder.encode(rgb, w, h, options.encoding()));
        try {
            PromptResult result = toResult(blocking().prompt(request.build()));
            digests.add(result.digest());
            return result;
        } catch (StatusRuntimeException e) {
            throw Errors.translate(e, options.address(), "Prompt");
        }
    }

    /**
     * Shuts the channel down, waiting up to 5 s for calls in flight, then cancels what remains.
     */
    @Override
    public void close() {
        channel.shutdown();
        try {
            if (!channel.awaitTermination(5, TimeUnit.SECONDS)) {
                channel.shutdownNow();
                channel.awaitTermination(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            channel.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }

    private PathoSamGrpc.PathoSamBlockingStub blocking() {
        // A fresh deadline per call: a stub's deadline is absolute.
        return PathoSamGrpc.newBlockingStub(channel)
                .withDeadlineAfter(options.deadline().toMillis(), TimeUnit.MILLISECONDS);
    }

    private byte[] read(TileSource source, PixelRect region, int w, int h) {
        try {
            return source.readRgb(region, options.downsample(), w, h);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the pixels of " + region, e);
        }
    }

    private PromptObject toProto(PromptInput input) {
        PromptObject.Builder object = PromptObject.newBuilder();
        for (PromptPoint p : input.points())
            object.addPointsBuilder().setX(p.x()).setY(p.y()).setPositive(p.positive());
        input.boxIfAny().ifPresent(box -> object.setBox(Protos.rect(box)));
        if (input.previous() != null)
            object.setPrevious(converter.toProto(input.previous()));
        return object.build();
    }

    private PromptResult toResult(PromptResponse response) {
        return new PromptResult(converter.toResults(response.getNucleiList()), response.getDigest(),
                response.getEmbeddingCached());
    }
}
