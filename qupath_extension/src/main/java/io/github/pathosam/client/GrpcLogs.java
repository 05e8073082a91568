package io.github.pathosam.client;

import io.grpc.internal.GrpcUtil;

import java.util.logging.Filter;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * Keeps gRPC's own log free of what the client already reports in words. gRPC logs a host name it
 * cannot resolve (a typo, a half-typed address) as a WARNING with the whole
 * {@code UnknownHostException} stack trace through {@code java.util.logging}; the same failure
 * reaches the user as "no PathoSAM server at HOST:PORT ...", so the record is dropped. Every other
 * gRPC record passes. In the extension's jar gRPC is relocated, so this touches only our own copy.
 */
final class GrpcLogs {

    /** The logger of gRPC's channel, by its class's name (relocated along with gRPC when shaded). */
    static final String CHANNEL_LOGGER = GrpcUtil.class.getPackageName() + ".ManagedChannelImpl";

    /** Drops "Failed to resolve name" records, keeps the rest. */
    static final Filter NO_NAME_RESOLUTION_TRACES = r -> r.getMessage() == null
            || !r.getMessage().contains("Failed to resolve name");

    // java.util.logging keeps loggers weakly: the filter lives as long as this reference.
    private static final Logger CHANNEL = Logger.getLogger(CHANNEL_LOGGER);

    static {
        CHANNEL.setFilter(NO_NAME_RESOLUTION_TRACES);
    }

    private GrpcLogs() {
    }

    /** Installs the filter (once; later calls do nothing). */
    static void quiet() {
        // The static initialiser has done the work.
    }

    /**
     * @param record a log record of gRPC's channel
     * @return whether it is logged
     */
    static boolean passes(LogRecord record) {
        Filter f = CHANNEL.getFilter();
        return f == null || f.isLoggable(record);
    }
}
