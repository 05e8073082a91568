package io.github.pathosam.client;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Client-side cost of one region stream, for benchmarks and logs.
 * {@link #seconds()} is the sum of the client's own work.
 *
 * @param tilesSent      tiles sent
 * @param readSeconds    time reading pixels from the {@link TileSource}
 * @param encodeSeconds  time encoding pixels and building tile messages
 * @param sendSeconds    time handing tile messages to gRPC (serialization into its buffers)
 * @param bytesSent      pixel payload bytes sent
 * @param batches        nucleus batches received
 * @param convertSeconds time turning received nuclei into JTS results (listener time excluded)
 * @param bytesReceived  serialized size of the nucleus batches received
 */
public record ClientStats(long tilesSent, double readSeconds, double encodeSeconds, double sendSeconds, long bytesSent,
                          long batches, double convertSeconds, long bytesReceived) {

    /** @return read + encode + send + convert seconds: the client's share of the work */
    public double seconds() {
        return readSeconds + encodeSeconds + sendSeconds + convertSeconds;
    }

    /** Thread-safe accumulator: tiles are counted on the sending thread, batches on gRPC threads. */
    static final class Recorder {
        private final AtomicLong tiles = new AtomicLong();
        private final AtomicLong readNanos = new AtomicLong();
        private final AtomicLong encodeNanos = new AtomicLong();
        private final AtomicLong sendNanos = new AtomicLong();
        private final AtomicLong sent = new AtomicLong();
        private final AtomicLong batches = new AtomicLong();
        private final AtomicLong convertNanos = new AtomicLong();
        private final AtomicLong received = new AtomicLong();

        void tileSent(long readNs, long encodeNs, long bytes) {
            tiles.incrementAndGet();
            readNanos.addAndGet(readNs);
            encodeNanos.addAndGet(encodeNs);
            sent.addAndGet(bytes);
        }

        void sent(long sendNs) {
            sendNanos.addAndGet(sendNs);
        }

        void converted(long convertNs, long bytes) {
            batches.incrementAndGet();
            convertNanos.addAndGet(convertNs);
            received.addAndGet(bytes);
        }

        ClientStats snapshot() {
            return new ClientStats(tiles.get(), readNanos.get() / 1e9, encodeNanos.get() / 1e9, sendNanos.get() / 1e9, sent.get(),
                    batches.get(), convertNanos.get() / 1e9, received.get());
        }
    }
}
