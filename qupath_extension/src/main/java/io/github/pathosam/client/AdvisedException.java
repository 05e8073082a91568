package io.github.pathosam.client;

/**
 * A failure re-thrown for a script runner, whose message is the user's advice (what went wrong and
 * what to do, {@link ErrorAdvice#describe}) and which has no cause.
 *
 * <p>QuPath's script editor and its {@code QuPath script} command report the deepest cause of an
 * exception, which for a gRPC failure is Netty's {@code Connection refused} or gRPC's raw
 * {@code UNAUTHENTICATED: ...}. Without a cause, the deepest cause is this exception, so a script
 * user reads the same advice as a notification in QuPath's window. The original failure is kept in
 * {@link #failure()} (not as the cause), for logs and for {@link ErrorAdvice#describe} with another
 * wording of where to fix things.
 */
public final class AdvisedException extends PathoSamException {

    private static final long serialVersionUID = 1L;

    private final transient Throwable failure;

    /**
     * @param statusCode the failure's kind, as {@link PathoSamException#statusCode()} names it
     * @param advice     the message: diagnosis and what to do
     * @param failure    the original failure
     */
    AdvisedException(String statusCode, String advice, Throwable failure) {
        super(statusCode, advice, null);
        this.failure = failure;
    }

    /** @return the failure this advice describes, with its own causes and stack trace; null after deserialisation */
    public Throwable failure() {
        return failure;
    }
}
