package io.github.pathosam.client;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;

import java.util.concurrent.CancellationException;

/** Turns gRPC failures into {@link PathoSamException}s whose messages a user can act on. */
final class Errors {

    private Errors() {
    }

    /** The message for "nothing listens at this address", shared by health checks and calls. */
    static String noServer(String address) {
        return "no PathoSAM server at " + address + " — start one with `pathosam serve`";
    }

    /**
     * @param error   a failure of a call
     * @param address server {@code host:port}
     * @param what    what was being done, e.g. "GetInfo"
     * @return the exception to throw (a {@link CancellationException} for a call the client cancelled)
     */
    static RuntimeException translate(Throwable error, String address, String what) {
        if (error instanceof PathoSamException || error instanceof CancellationException)
            return (RuntimeException) error;
        if (!(error instanceof StatusRuntimeException sre)) {
            // E.g. a RegionListener's own exception: hand it back unchanged.
            if (error instanceof RuntimeException re)
                return re;
            return new PathoSamException("CLIENT", what + " failed: " + error, error);
        }
        Status status = sre.getStatus();
        String detail = status.getDescription() == null ? status.getCode().name() : status.getDescription();
        return switch (status.getCode()) {
            case UNAVAILABLE -> new ServerUnavailableException(
                    neverConnected(status) ? noServer(address)
                            : "lost the connection to the PathoSAM server at " + address + " during " + what + ": " + detail,
                    error);
            case CANCELLED -> {
                CancellationException ce = new CancellationException(what + " was cancelled: " + detail);
                ce.initCause(error);
                yield ce;
            }
            case UNIMPLEMENTED -> new PathoSamException("UNIMPLEMENTED",
                    "the PathoSAM server at " + address + " does not implement " + what + " yet: " + detail, error);
            // The server's own words follow (e.g. "missing or wrong bearer token").
            case UNAUTHENTICATED -> new PathoSamException("UNAUTHENTICATED",
                    "the PathoSAM server at " + address + " refused the token: " + detail, error);
            case PERMISSION_DENIED -> new PathoSamException("PERMISSION_DENIED",
                    "the PathoSAM server at " + address + " refused the request: " + detail, error);
            case DEADLINE_EXCEEDED -> new PathoSamException("DEADLINE_EXCEEDED",
                    what + " got no answer from " + address + " in time: " + detail, error);
            case RESOURCE_EXHAUSTED -> new PathoSamException("RESOURCE_EXHAUSTED",
                    "the PathoSAM server at " + address + " is at a limit (" + detail
                            + "); try smaller tiles or fewer concurrent runs", error);
            default -> new PathoSamException(status.getCode().name(),
                    what + " failed on " + address + ": " + status.getCode() + ": " + detail, error);
        };
    }

    /**
     * Connection refused / unresolved host: the channel never reached a server. grpc-java reports
     * these as UNAVAILABLE with an I/O cause, while a dropped connection has none.
     */
    static boolean neverConnected(Status status) {
        Throwable cause = status.getCause();
        while (cause != null) {
            if (cause instanceof java.net.ConnectException || cause instanceof java.net.UnknownHostException
                    || cause instanceof java.nio.channels.UnresolvedAddressException)
                return true;
            cause = cause.getCause();
        }
        return false;
    }
}
