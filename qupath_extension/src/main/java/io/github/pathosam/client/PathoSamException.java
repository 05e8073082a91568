package io.github.pathosam.client;

/**
 * A PathoSAM call failed. The message is meant for a user; {@link #statusCode()} tells what kind
 * of failure it was (a gRPC status code name such as {@code UNAVAILABLE}, {@code INVALID_ARGUMENT},
 * {@code UNIMPLEMENTED}, or {@code CLIENT} for errors raised on this side).
 */
public class PathoSamException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final String statusCode;

    /**
     * @param statusCode gRPC status code name, or {@code CLIENT}
     * @param message    user-facing message
     * @param cause      the underlying error, may be null
     */
    public PathoSamException(String statusCode, String message, Throwable cause) {
        super(message, cause);
        this.statusCode = statusCode;
    }

    /** @return the gRPC status code name, or {@code CLIENT} */
    public String statusCode() {
        return statusCode;
    }
}
