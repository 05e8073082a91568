package io.github.pathosam.client;

/**
 * No PathoSAM server answers at the configured address, or the connection to it was lost.
 */
public class ServerUnavailableException extends PathoSamException {

    private static final long serialVersionUID = 1L;

    /**
     * @param message user-facing message
     * @param cause   the underlying error, may be null
     */
    public ServerUnavailableException(String message, Throwable cause) {
        super("UNAVAILABLE", message, cause);
    }
}
