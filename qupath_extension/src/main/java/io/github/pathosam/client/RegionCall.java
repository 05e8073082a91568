package io.github.pathosam.client;

import io.github.pathosam.grpc.v1.PathoSamGrpc;
import io.github.pathosam.grpc.v1.RegionEnd;
import io.github.pathosam.grpc.v1.RegionStart;
import io.github.pathosam.grpc.v1.SegmentRegionRequest;
import io.github.pathosam.grpc.v1.SegmentRegionResponse;
import io.github.pathosam.grpc.v1.Tile;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.channels.ClosedByInterruptException;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One region segmentation over the {@code SegmentRegion} stream.
 *
 * <p>{@link #run()} sends the tiles of a plan on the calling thread, reading each one from the
 * {@link TileSource} only when gRPC says the stream can take more ({@code isReady}), so at most
 * about one tile's pixels are held at a time whatever the region's size. Results reach the
 * {@link RegionListener} on a gRPC thread as the server sends them, while tiles are still going out.
 *
 * <p>{@link #cancel()} (from any thread) or interrupting the thread in {@code run()} cancels the
 * gRPC call, which the server sees at once and stops working. A lost connection, a server that
 * goes silent for longer than {@link ClientOptions#streamIdleTimeout()}, or a failing listener
 * ends {@code run()} with an exception; it never hangs. A RegionCall runs once.
 */
public final class RegionCall {

    private final PathoSamGrpc.PathoSamStub stub;
    private final RegionStart start;
    private final List<PlannedTile> tiles;
    private final TileSource source;
    private final ClientOptions options;
    private final RegionListener listener;
    private final GeometryConverter converter;
    private final ClientStats.Recorder stats = new ClientStats.Recorder();

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    // Guarded by lock.
    private ClientCallStreamObserver<SegmentRegionRequest> requests;
    private boolean started;
    private boolean finished;
    private boolean cancelled;
    private Throwable failure;
    private RegionSummary summary;
    private long lastActivityNanos;

    RegionCall(PathoSamGrpc.PathoSamStub stub, RegionStart start, List<PlannedTile> tiles, TileSource source,
               ClientOptions options, RegionListener listener, GeometryConverter converter) {
        this.stub = stub;
        this.start = start;
        this.tiles = List.copyOf(tiles);
        this.source = source;
        this.options = options;
        this.listener = listener;
        this.converter = converter;
    }

    /** @return the tiles this call sends, in order */
    public List<PlannedTile> tiles() {
        return tiles;
    }

    /**
     * Streams the region and waits for the server's summary.
     *
     * @return the summary, after the listener received every nucleus
     * @throws CancellationException       when cancelled or interrupted (the interrupt flag is kept)
     * @throws ServerUnavailableException  when no server answers or the connection is lost
     * @throws PathoSamException           for any other failure, e.g. an unreadable tile or a server error
     * @throws IllegalStateException       when called twice
     */
    public RegionSummary run() {
        lock.lock();
        try {
            if (started)
                throw new IllegalStateException("a RegionCall runs once");
            started = true;
            if (cancelled)
                throw new CancellationException("region segmentation was cancelled before it started");
            lastActivityNanos = System.nanoTime();
        } finally {
            lock.unlock();
        }
        stub.segmentRegion(new Responses());
        try {
            send(SegmentRegionRequest.newBuilder().setStart(start).build());
            for (PlannedTile tile : tiles) {
                awaitReady();
                SegmentRegionRequest message = SegmentRegionRequest.newBuilder().setTile(readTile(tile)).build();
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

    /**
     * Cancels the call; the server stops, no summary follows and {@link #run()} throws
     * {@link CancellationException}. Safe from any thread, at any time, more than once.
     */
    public void cancel() {
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

    /** @return client-side timings and sizes so far (read, encode, convert, bytes sent) */
    public ClientStats stats() {
        return stats.snapshot();
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
            stream.setOnReadyHandler(RegionCall.this::touch);
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
                        List<NucleusResult> nuclei = converter.toResults(response.getNuclei().getNucleiList());
                        stats.converted(System.nanoTime() - t0, response.getSerializedSize());
                        listener.onNuclei(response.getNuclei().getTileIndex(), nuclei);
                    }
                    case PROGRESS -> listener.onProgress(new TileProgress(response.getProgress().getIndex(),
                            response.getProgress().getNuclei(), response.getProgress().getTilesDone(),
                            tiles.size(), response.getProgress().getSeconds()));
                    case SUMMARY -> {
                        RegionSummary s = RegionSummary.fromProto(response.getSummary());
                        lock.lock();
                        try {
                            summary = s;
                        } finally {
                            lock.unlock();
                        }
                        listener.onSummary(s);
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
