package io.github.pathosam.client;

import org.locationtech.jts.geom.Envelope;
import org.locationtech.jts.geom.Geometry;
import org.locationtech.jts.index.quadtree.Quadtree;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * Keeps one nucleus where a tile sent again after a lost server and a neighbour finished on an
 * earlier stream disagree about it. Within one stream the server does this (its seam guard); across
 * streams only the client has both tiles' nuclei.
 *
 * <p>A neighbour sees at most its halo into a tile's core, so only nuclei within that band of a
 * core's border can be the same as a neighbour's: those are remembered in a quadtree (memory grows
 * with nuclei along core borders, never with pixels; a cap evicts the oldest). A nucleus of a later
 * stream is dropped when it shares more than half of the smaller one's area with a remembered
 * nucleus of another tile from an earlier stream. JTS does the geometry; this class only decides
 * which pairs to compare.
 */
final class ResendGuard {

    private static final double MIN_SHARED = 0.5;
    private static final int MAX_ENTRIES = 50_000;

    private record Entry(Geometry geometry, int tile, int stream) {
    }

    private final double band;
    private final Quadtree index = new Quadtree();
    private final ArrayDeque<Entry> order = new ArrayDeque<>();
    private long dropped;

    /** @param band width in level-0 pixels of the border band that neighbours see (the halo) */
    ResendGuard(double band) {
        this.band = band;
    }

    /**
     * @param nuclei the nuclei a tile owned
     * @param tile   the tile
     * @param stream which stream of the call (0 first) it came back on
     * @return the nuclei to keep, in order; the rest are counted in {@link #dropped()}
     */
    synchronized List<NucleusResult> admit(List<NucleusResult> nuclei, PlannedTile tile, int stream) {
        Envelope inner = new Envelope(tile.core().x() + band, tile.core().maxX() - band,
                tile.core().y() + band, tile.core().maxY() - band);
        List<NucleusResult> kept = new ArrayList<>(nuclei.size());
        for (NucleusResult n : nuclei) {
            Envelope env = n.geometry().getEnvelopeInternal();
            boolean border = inner.isNull() || !inner.contains(env);
            if (border && stream > 0 && sameAsEarlier(n.geometry(), env, tile.index(), stream)) {
                dropped++;
                continue;
            }
            kept.add(n);
            if (border)
                remember(new Entry(n.geometry(), tile.index(), stream), env);
        }
        return kept;
    }

    /** @return nuclei dropped as the same as one an earlier stream returned */
    synchronized long dropped() {
        return dropped;
    }

    private boolean sameAsEarlier(Geometry g, Envelope env, int tile, int stream) {
        for (Object o : index.query(env)) {
            Entry e = (Entry) o;
            if (e.stream >= stream || e.tile == tile || !e.geometry.getEnvelopeInternal().intersects(env))
                continue;
            double smaller = Math.min(g.getArea(), e.geometry.getArea());
            if (smaller > 0 && g.intersection(e.geometry).getArea() > MIN_SHARED * smaller)
                return true;
        }
        return false;
    }

    private void remember(Entry e, Envelope env) {
        index.insert(env, e);
        order.addLast(e);
        if (order.size() > MAX_ENTRIES) {
            Entry old = order.removeFirst();
            index.remove(old.geometry.getEnvelopeInternal(), old);
        }
    }
}
