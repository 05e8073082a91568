package io.github.pathosam.client;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/** Keeps everything a region stream delivers, for assertions. Thread-safe. */
class CollectingListener implements RegionListener {

    /** A nucleus with the tile whose batch brought it. */
    record Owned(long tileIndex, NucleusResult nucleus) {
    }

    final List<Owned> nuclei = Collections.synchronizedList(new ArrayList<>());
    final List<TileProgress> progress = Collections.synchronizedList(new ArrayList<>());
    final List<RegionSummary> summaries = Collections.synchronizedList(new ArrayList<>());
    final CountDownLatch firstProgress = new CountDownLatch(1);

    @Override
    public void onNuclei(long tileIndex, List<NucleusResult> batch) {
        for (NucleusResult n : batch)
            nuclei.add(new Owned(tileIndex, n));
    }

    @Override
    public void onProgress(TileProgress p) {
        progress.add(p);
        firstProgress.countDown();
    }

    @Override
    public void onSummary(RegionSummary summary) {
        summaries.add(summary);
    }

    /** Waits until a tile is done; fails at once with the call's error if the call ends first. */
    void awaitFirstTile(java.util.concurrent.Future<?> call) throws Exception {
        long end = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(180);
        while (!firstProgress.await(100, java.util.concurrent.TimeUnit.MILLISECONDS)) {
            if (call.isDone()) {
                call.get();
                throw new AssertionError("the call ended before any tile was done");
            }
            if (System.nanoTime() > end)
                throw new AssertionError("no tile done within 180 s");
        }
    }

    List<NucleusResult> results() {
        synchronized (nuclei) {
            return nuclei.stream().map(Owned::nucleus).toList();
        }
    }
}
