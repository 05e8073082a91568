package io.github.pathosam.client;

import io.github.pathosam.grpc.v1.PathoSamGrpc;
import io.github.pathosam.grpc.v1.RegionStart;
import io.github.pathosam.grpc.v1.TileDone;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One region segmentation over the {@code SegmentRegion} stream.
 *
 * <p>{@link #run()} sends the tiles of a plan on the calling thread, reading each one from the
 * {@link TileSource} while the one before is going out and sending it when gRPC says the stream can
 * take more ({@code isReady}), so at most about two tiles' pixels are held at a time whatever the
 * region's size. Results reach the
 * {@link RegionListener} on a gRPC thread as the server finishes tiles, while tiles are still going out;
 * a tile's nuclei arrive together, just before its progress.
 *
 * <p>On a pool of servers ({@link ServerTarget#isPool()}), when the server of the stream goes away
 * mid-run (killed, restarted, its machine lost; gRPC reports UNAVAILABLE on a connection that was
 * up), the tiles it had not finished are sent again on a new stream, at most {@link #MAX_RESENDS}
 * times with growing pauses, and gRPC's round robin puts that stream on a server that is still up.
 * (With one server there is nowhere else to go: the call fails and says the connection was lost.) Tiles
 * already finished are not sent again, so each nucleus still reaches the listener once; where a
 * re-sent tile and a finished neighbour disagree about a nucleus on their seam, the later one is
 * dropped as the server does within one stream. Nothing else is retried: a server error, a refused
 * connection, a cancel or a listener's exception ends {@code run()} at once.
 *
 * <p>{@link #cancel()} (from any thread) or interrupting the thread in {@code run()} cancels the
 * gRPC call, which the server sees at once and stops working. A server that goes silent for longer
 * than {@link ClientOptions#streamIdleTimeout()} or a failing listener ends {@code run()} with an
 * exception; it never hangs. A RegionCall runs once.
 */
public final class RegionCall {

    /** Most times the unfinished tiles of a region are sent again after its server went away. */
    public static final int MAX_RESENDS = 3;

    private static final long FIRST_PAUSE_MILLIS = 500;

    private static final org.slf4j.Logger logger = org.slf4j.LoggerFactory.getLogger(RegionCall.class);

    private final PathoSamGrpc.PathoSamStub stub;
    private final RegionStart start;
    private final List<PlannedTile> tiles;
    private final TileSource source;
    private final ClientOptions options;
    private final RegionListener listener;
    private final GeometryConverter converter;
    private final ClientStats.Recorder stats = new ClientStats.Recorder();
    private final ResendGuard guard;
    private final java.util.function.BooleanSupplier closed;
    private final PixelRect region;

    private final ReentrantLock lock = new ReentrantLock();
    // Guarded by lock.
    private boolean started;
    private boolean cancelled;
    private RegionStream current;
    private final List<String> servers = new ArrayList<>();
    // Guarded by lock; written by the sink of the stream in flight (one at a time).
    private final Set<Long> done = new HashSet<>();
    private final Map<String, Long> perClass = new HashMap<>();
    private long nuclei;
    private long touching;
    private long skipped;
    private double coveredArea;

    RegionCall(PathoSamGrpc.PathoSamStub stub, RegionStart start, List<PlannedTile> tiles, TileSource source,
               ClientOptions options, RegionListener listener, GeometryConverter converter,
               java.util.function.BooleanSupplier closed) {
        this.stub = stub;
        this.closed = closed;
        this.start = start;
        this.tiles = List.copyOf(tiles);
        this.source = source;
        this.options = options;
        this.listener = listener;
        this.converter = converter;
        this.guard = new ResendGuard(options.halo() * options.downsample());
        this.region = new PixelRect((int) start.getRegion().getX(), (int) start.getRegion().getY(),
                (int) start.getRegion().getWidth(), (int) start.getRegion().getHeight());
    }

    /** @return the tiles this call sends, in order */
    public List<PlannedTile> tiles() {
        return tiles;
    }

    /**
     * Streams the region and waits for the server's summary.
     *
     * @return the summary, after the listener received every nucleus; when tiles were sent again its
     *         counts are the client's own over all streams (see {@link #resends()})
     * @throws CancellationException       when cancelled or interrupted (the interrupt flag is kept)
     * @throws ServerUnavailableException  when no server answers, or the connection is lost more often than
     *                                     {@link #MAX_RESENDS} allows
     * @throws PathoSamException           for any other failure, e.g. an unreadable tile or a server error
     * @throws IllegalStateException       when called twice
     */
    public RegionSummary run() {
        long t0 = System.nanoTime();
        lock.lock();
        try {
            if (started)
                throw new IllegalStateException("a RegionCall runs once");
            started = true;
        } finally {
            lock.unlock();
        }
        List<PlannedTile> pending = tiles;
        for (int attempt = 0; ; attempt++) {
            Sink sink = new Sink(attempt);
            RegionStream stream = new RegionStream(stub, start, pending, source, options, sink, converter, stats);
            lock.lock();
            try {
                if (cancelled)
                    throw new CancellationException("region segmentation was cancelled");
                current = stream;
            } finally {
                lock.unlock();
            }
            RegionSummary summary;
            try {
                summary = stream.run();
            } catch (ServerUnavailableException e) {
                // A client closed meanwhile reports UNAVAILABLE too; that is not a lost server.
                if (!options.target().isPool() || !stream.lostServer() || closed.getAsBoolean() || attempt >= MAX_RESENDS)
                    throw e;
                pending = unfinished();
                note(stream.server());
                logger.warn("Lost the PathoSAM server {} of a region stream ({}); sending its {} unfinished tiles again ({} of {})",
                        stream.server().isEmpty() ? options.address() : stream.server(), e.getMessage(), pending.size(),
                        attempt + 1, MAX_RESENDS);
                if (pending.isEmpty()) {
                    summary = null; // every tile finished; only the summary was lost
                } else {
                    pause(FIRST_PAUSE_MILLIS << attempt);
                    continue;
                }
            }
            note(stream.server());
            RegionSummary result = attempt == 0 ? summary : merged(summary, t0);
            listener.onSummary(result);
            return result;
        }
    }

    /**
     * Cancels the call; the server stops, no summary follows and {@link #run()} throws
     * {@link CancellationException}. Safe from any thread, at any time, more than once.
     */
    public void cancel() {
        RegionStream stream;
        lock.lock();
        try {
            cancelled = true;
            stream = current;
        } finally {
            lock.unlock();
        }
        if (stream != null)
            stream.cancel();
    }

    /** @return client-side timings and sizes so far (read, encode, convert, bytes sent), over all streams */
    public ClientStats stats() {
        return stats.snapshot();
    }

    /**
     * @return the servers (as they name themselves, {@code host:port}) whose streams this call used, in
     *         order; more than one when tiles were sent again after a server went away
     */
    public List<String> servers() {
        lock.lock();
        try {
            return List.copyOf(servers);
        } finally {
            lock.unlock();
        }
    }

    /** @return how many times unfinished tiles were sent again on a new stream */
    public int resends() {
        lock.lock();
        try {
            return Math.max(0, servers.size() - 1);
        } finally {
            lock.unlock();
        }
    }

    /** @return the server of the stream in flight, as it names itself; "" before it answered */
    String currentServer() {
        lock.lock();
        try {
            return current == null ? "" : current.server();
        } finally {
            lock.unlock();
        }
    }

    private void note(String server) {
        lock.lock();
        try {
            servers.add(server.isEmpty() ? options.address() : server);
        } finally {
            lock.unlock();
        }
    }

    private List<PlannedTile> unfinished() {
        lock.lock();
        try {
            return tiles.stream().filter(t -> !done.contains((long) t.index())).toList();
        } finally {
            lock.unlock();
        }
    }

    private void pause(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw (CancellationException) new CancellationException("region segmentation was interrupted").initCause(e);
        }
    }

    /**
     * The summary of a region whose tiles went over several streams: counts are what the listener
     * received; encoder, decoder and post-processing times are the last stream's (the lost servers
     * never sent theirs), total time is the client's wall time.
     */
    private RegionSummary merged(RegionSummary last, long t0) {
        lock.lock();
        try {
            double area = region.area();
            return new RegionSummary(nuclei, done.size(), perClass,
                    last == null ? 0 : last.encoderSeconds(), last == null ? 0 : last.decoderSeconds(),
                    last == null ? 0 : last.postprocessSeconds(), (System.nanoTime() - t0) / 1e9,
                    area > 0 ? Math.min(1.0, coveredArea / area) : 0, touching,
                    (last == null ? 0 : last.nucleiDroppedAtSeams()) + guard.dropped(),
                    last == null ? options.model() : last.model(), skipped);
        } finally {
            lock.unlock();
        }
    }

    /** Passes one stream's finished tiles to the listener, counting them for a merged summary. */
    private final class Sink implements RegionStream.Sink {
        private final int attempt;

        Sink(int attempt) {
            this.attempt = attempt;
        }

        @Override
        public void tile(List<NucleusResult> tileNuclei, int tileTouching, TileDone tileDone) {
            PlannedTile tile = planned(tileDone.getIndex());
            List<NucleusResult> kept = tile == null ? tileNuclei : guard.admit(tileNuclei, tile, attempt);
            int doneSoFar;
            lock.lock();
            try {
                done.add(tileDone.getIndex());
                doneSoFar = done.size();
                nuclei += kept.size();
                touching += tileTouching;
                if (tileDone.getSkipped())
                    skipped++;
                for (NucleusResult n : kept)
                    perClass.merge(n.className(), 1L, Long::sum);
                if (tile != null)
                    coveredArea += tile.core().intersection(region).area();
            } finally {
                lock.unlock();
            }
            listener.onNuclei(tileDone.getIndex(), kept);
            listener.onProgress(new TileProgress(tileDone.getIndex(), kept.size(), doneSoFar, tiles.size(),
                    tileDone.getSeconds()));
        }
    }

    private PlannedTile planned(long index) {
        // Plans number their tiles 0..n-1 in order; look further only for a plan that does not.
        if (index >= 0 && index < tiles.size() && tiles.get((int) index).index() == index)
            return tiles.get((int) index);
        for (PlannedTile t : tiles) {
            if (t.index() == index)
                return t;
        }
        return null;
    }
}
