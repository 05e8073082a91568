package io.github.pathosam.client;

import io.github.pathosam.grpc.v1.NucleusBatch;
import io.github.pathosam.grpc.v1.Nucleus;
import io.github.pathosam.grpc.v1.PathoSamGrpc;
import io.github.pathosam.grpc.v1.RegionEnd;
import io.github.pathosam.grpc.v1.RegionStart;
import io.github.pathosam.grpc.v1.SegmentRegionRequest;
import io.github.pathosam.grpc.v1.SegmentRegionResponse;
import io.github.pathosam.grpc.v1.Tile;
import io.github.pathosam.grpc.v1.TileDone;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.channels.ClosedByInterruptException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One {@code SegmentRegion} stream of a {@link RegionCall}: sends its tiles, reading each one from
 * the {@link TileSource} while the one before is still going out and sending it when gRPC says the
 * stream can take more ({@code isReady}), so at most about two tiles' pixels are held at a time
 * whatever the region's size, and hands each finished
 * tile (its nuclei, then its TileDone) to a {@link Sink} on a gRPC thread. A tile's nuclei are held
 * until its TileDone arrives, so that a stream that breaks mid-tile delivers none of that tile and
 * the tile can be re-sent whole on another stream.
 */
final class RegionStream {

    /** Receives finished tiles on a gRPC thread, in the server's order; the summary is what {@link #run()} returns. */
    interface Sink {
        /**
         * @param nuclei   the tile's nuclei, possibly empty
         * @param touching how many of them touch the tile's outer edge
         * @param done     the server's TileDone
         */
        void tile(List<NucleusResult> nuclei, int touching, TileDone done);
    }

    /** Response header in which a PathoSAM server names itself (host:port), so logs can say which one failed. */
    private static final Metadata.Key<String> SERVER_KEY = Metadata.Key.of("pathosam-server", Metadata.ASCII_STRING_MARSHALLER);

    private final PathoSamGrpc.PathoSamStub stub;
    private final RegionStart start;
    private final List<PlannedTile> tiles;
    private final TileSource source;
    private final ClientOptions options;
    private final Sink sink;
    private final GeometryConverter converter;
    private final ClientStats.Recorder stats;
    private final AtomicReference<Metadata> headers = new AtomicReference<>();
    // Only touched on gRPC's serialized callback thread.
    private final Map<Long, List<NucleusResult>> held = new HashMap<>();
    private final Map<Long, Integer> heldTouching = new HashMap<>();

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    // Guarded by lock.
    private ClientCallStreamObserver<SegmentRegionRequest> requests;
    private boolean finished;
    private boolean cancelled;
    private Throwable failure;
    private RegionSummary summary;
    private long lastActivityNanos;

    RegionStream(PathoSamGrpc.PathoSamStub stub, RegionStart start, List<PlannedTile> tiles, TileSource source,
                 ClientOptions options, Sink sink, GeometryConverter converter, ClientStats.Recorder stats) {
        this.stub = stub;
        this.start = start;
        this.tiles = List.copyOf(tiles);
        this.source = source;
        this.options = options;
        this.sink = sink;
        this.converter = converter;
        this.stats = stats;
    }

    /**
     * Streams the tiles and waits for the server's summary.
     *
     * @return the summary, after the sink received every tile
     * @throws CancellationException       when cancelled or interrupted (the interrupt flag is kept)
     * @throws ServerUnavailableException  when no server answers or the connection is lost
     * @throws PathoSamException           for any other failure, e.g. an unreadable tile or a server error
     */
    RegionSummary run() {
        lock.lock();
        try {
            if (cancelled)
                throw new CancellationException("region segmentation was cancelled before it started");
            lastActivityNanos = System.nanoTime();
        } finally {
            lock.unlock();
        }
        stub.withInterceptors(MetadataUtils.newCaptureMetadataInterceptor(headers, new AtomicReference<>()))
                .segmentRegion(new Responses());
        try {
            send(SegmentRegionRequest.newBuilder().setStart(start).build());
            for (PlannedTile tile : tiles) {
                // Read first, then wait: the next tile's pixels come off the ImageServer while the last
                // one is still going out (and the server computes), so reading never adds to the wall
                // time of a stream the server keeps busy. Still at most one tile in hand beyond gRPC's buffer.
                SegmentRegionRequest message = SegmentRegionRequest.newBuilder().setTile(readTile(tile)).build();
                awaitReady();
                long t0 = System.nanoTime();
                send(message);
                stats.sent(System.nanoTime() - t0);
            }
            send(SegmentRegionRequest.newBuilder().setEnd(RegionEnd.getDefaultInstance()).build());
            lock.lock();
            try {
                checkAlive();
                requests.onCompleted();
            } finally {
                lock.unlock();
            }
            return awaitSummary();
        } catch (InterruptedException | ClosedByInterruptException | InterruptedIOException e) {
            cancel();
            Thread.currentThread().interrupt();
            throw (CancellationException) new CancellationException("region segmentation was interrupted").initCause(e);
        } catch (IOException e) {
            abort(e);
            throw new PathoSamException("CLIENT", "cannot read the pixels of a tile: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            abort(e);
            throw e;
        }
    }

    /** Cancels the stream; safe from any thread, at any time, more than once. */
    void cancel() {
        lock.lock();
        try {
            if (finished || cancelled)
                return;
            cancelled = true;
            if (requests != null)
                requests.cancel("cancelled by the client", null);
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /**
     * @return whether the stream broke because its server went away mid-run (a connection that was
     *         up and broke; not a refused connection, a cancel, a server error or a client error), so its
     *         unfinished tiles may go to another stream
     */
    boolean lostServer() {
        lock.lock();
        try {
            return !cancelled && failure instanceof StatusRuntimeException sre
                    && sre.getStatus().getCode() == Status.Code.UNAVAILABLE && !Errors.neverConnected(sre.getStatus());
        } finally {
            lock.unlock();
        }
    }

    /** @return the server's name for itself ({@code pathosam-server} header), or "" before it answered */
    String server() {
        Metadata h = headers.get();
        String id = h == null ? null : h.get(SERVER_KEY);
        return id == null ? "" : id;
    }

    private Tile readTile(PlannedTile tile) throws IOException {
        long t0 = System.nanoTime();
        byte[] rgb = source.readRgb(tile.region(), options.downsample(), tile.width(), tile.height());
        long t1 = System.nanoTime();
        Tile message = Tile.newBuilder()
                .setRegion(Protos.rect(tile.region()))
                .setCore(Protos.rect(tile.core()))
                .setImage(PixelEncoder.encode(rgb, tile.width(), tile.height(), options.encoding()))
                .setIndex(tile.index())
                .build();
        stats.tileSent(t1 - t0, System.nanoTime() - t1, message.getImage().getData().size());
        return message;
    }

    /** Sends under the lock so that a concurrent cancel() cannot slip between the check and onNext. */
    private void send(SegmentRegionRequest message) {
        lock.lock();
        try {
            checkSending();
            requests.onNext(message);
        } finally {
            lock.unlock();
        }
    }

    private void awaitReady() throws InterruptedException {
        lock.lock();
        try {
            while (!requests.isReady()) {
                checkSending();
                awaitChange();
            }
            checkSending();
        } finally {
            lock.unlock();
        }
    }

    private RegionSummary awaitSummary() throws InterruptedException {
        lock.lock();
        try {
            while (!finished) {
                checkAlive();
                awaitChange();
            }
            checkAlive();
            if (summary == null)
                throw new PathoSamException("INTERNAL",
                        "the PathoSAM server at " + options.address() + " ended the region stream without a summary", null);
            return summary;
        } finally {
            lock.unlock();
        }
    }

    /** Waits for a signal, at most a second, and enforces the idle timeout. Holds the lock. */
    private void awaitChange() throws InterruptedException {
        changed.await(1, TimeUnit.SECONDS);
        long idle = System.nanoTime() - lastActivityNanos;
        if (!finished && failure == null && !cancelled && idle > options.streamIdleTimeout().toNanos()) {
            failure = new PathoSamException("DEADLINE_EXCEEDED", "no message from the PathoSAM server at "
                    + options.address() + " for " + options.streamIdleTimeout().toSeconds() + " s; region cancelled", null);
            requests.cancel("client idle timeout", null);
        }
    }

    /** Throws when the call failed or was cancelled. Holds the lock. */
    private void checkAlive() {
        if (failure != null)
            throw Errors.translate(failure, options.address(), "region segmentation");
        if (cancelled)
            throw new CancellationException("region segmentation was cancelled");
    }

    /** Like {@link #checkAlive()}, and also fails when the server closed the stream early. Holds the lock. */
    private void checkSending() {
        checkAlive();
        if (finished)
            throw new PathoSamException("INTERNAL", "the PathoSAM server at " + options.address()
                    + " ended the region stream before all tiles were sent", null);
    }

    private void abort(Throwable cause) {
        lock.lock();
        try {
            if (failure == null && !finished && !cancelled) {
                failure = cause;
                requests.cancel("client error: " + cause.getMessage(), cause);
            }
        } finally {
            lock.unlock();
        }
    }

    private void touch() {
        lock.lock();
        try {
            lastActivityNanos = System.nanoTime();
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Receives the server's messages on gRPC threads. */
    private final class Responses implements ClientResponseObserver<SegmentRegionRequest, SegmentRegionResponse> {

        @Override
        public void beforeStart(ClientCallStreamObserver<SegmentRegionRequest> stream) {
            lock.lock();
            try {
                requests = stream;
            } finally {
                lock.unlock();
            }
            stream.setOnReadyHandler(RegionStream.this::touch);
        }

        @Override
        public void onNext(SegmentRegionResponse response) {
            touch();

            if (isStopping())
                return;
            try {
                switch (response.getMessageCase()) {
                    case NUCLEI -> {
                        long t0 = System.nanoTime();
                        NucleusBatch batch = response.getNuclei();
                        List<NucleusResult> nuclei = converter.toResults(batch.getNucleiList());
                        stats.converted(System.nanoTime() - t0, response.getSerializedSize());
                        held.computeIfAbsent(batch.getTileIndex(), k -> new ArrayList<>()).addAll(nuclei);
                        int touching = (int) batch.getNucleiList().stream().filter(Nucleus::getTouchesTileEdge).count();
                        heldTouching.merge(batch.getTileIndex(), touching, Integer::sum);
                    }
                    case PROGRESS -> {
                        TileDone done = response.getProgress();
                        List<NucleusResult> nuclei = held.remove(done.getIndex());
                        Integer touching = heldTouching.remove(done.getIndex());
                        sink.tile(nuclei == null ? List.of() : nuclei, touching == null ? 0 : touching, done);
                    }
                    case SUMMARY -> {
                        RegionSummary s = RegionSummary.fromProto(response.getSummary());
                        lock.lock();
                        try {
                            summary = s;
                        } finally {
                            lock.unlock();
                        }
                    }
                    default -> { } // A newer server's message kind: ignore it.
                }
            } catch (RuntimeException e) {
                abort(e);
            }
        }

        @Override
        public void onError(Throwable t) {
            lock.lock();
            try {
                if (failure == null && !cancelled)
                    failure = t;
                finished = true;
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        }

        @Override
        public void onCompleted() {
            lock.lock();
            try {
                finished = true;
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        }

        private boolean isStopping() {
            lock.lock();
            try {
                return cancelled || failure != null;
            } finally {
                lock.unlock();
            }
        }
    }
}
