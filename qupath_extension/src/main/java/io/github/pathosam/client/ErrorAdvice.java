package io.github.pathosam.client;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * Turns any failure of a PathoSAM run into one or two sentences for a user: what went wrong and
 * what to do. Stack traces belong in the log, never in a notification.
 *
 * <p>What to do depends on where the user is: in QuPath the address is a preference under a menu
 * path, in a script it is a builder option. So the sentences that name a place to fix something
 * are this record's components, which a client fills from its own wording (the QuPath adapter
 * from its resource bundle); {@link #NEUTRAL} names no user interface. The diagnosis itself (the
 * first sentence) is the same everywhere.
 *
 * @param checkAddress  what to do when no server answers, e.g. "Check the server address."
 * @param setToken      what to do when the server refuses the token
 * @param chooseModel   what to do when the server has no such model
 * @param checkSettings what to do when a setting is invalid
 * @param seeLog        where to find details of an unexpected error
 */
public record ErrorAdvice(String checkAddress, String setToken, String chooseModel, String checkSettings,
                          String seeLog) {

    /** Advice that names no particular user interface: for scripts, tools and logs. */
    public static final ErrorAdvice NEUTRAL = new ErrorAdvice(
            "Check the server address.",
            "Check the server token.",
            "Choose one of the server's models, or none for its default.",
            "Check the PathoSAM settings.",
            "See the log for details.");

    /** Checks that every sentence is there. */
    public ErrorAdvice {
        Objects.requireNonNull(checkAddress, "checkAddress");
        Objects.requireNonNull(setToken, "setToken");
        Objects.requireNonNull(chooseModel, "chooseModel");
        Objects.requireNonNull(checkSettings, "checkSettings");
        Objects.requireNonNull(seeLog, "seeLog");
    }

    /**
     * @param error the failure
     * @return whether the user cancelled (not an error to report)
     */
    public static boolean isCancellation(Throwable error) {
        for (Throwable t = original(error); t != null; t = t.getCause()) {
            if (t instanceof CancellationException || t instanceof InterruptedException)
                return true;
        }
        return false;
    }

    /**
     * @param error the failure
     * @return whether it is a bug rather than a condition the user can fix (worth a stack trace in the log)
     */
    public static boolean isUnexpected(Throwable error) {
        Throwable e = unwrap(error);
        if (e instanceof AdvisedException)
            return false;
        return !(e instanceof PathoSamException || e instanceof IllegalArgumentException || e instanceof IOException
                || isCancellation(e));
    }

    /**
     * @param error the failure
     * @return a message for the user, ending with what to do
     */
    public String describe(Throwable error) {
        Throwable e = unwrap(error);
        if (e instanceof AdvisedException a)
            return a.getMessage();
        if (isCancellation(e))
            return "Cancelled: nothing was changed.";
        if (e instanceof ServerUnavailableException)
            return sentence(e.getMessage()) + " " + checkAddress;
        if (e instanceof PathoSamException p) {
            return switch (p.statusCode()) {
                case "UNAUTHENTICATED", "PERMISSION_DENIED" -> sentence(p.getMessage()) + " " + setToken;
                // The server's and ModelSelection's code for a model it does not have.
                case "NOT_FOUND" -> sentence(p.getMessage()) + " " + chooseModel;
                case "DEADLINE_EXCEEDED" ->
                        sentence(p.getMessage()) + " The server may be busy or slow (CPU); try a smaller region.";
                case "UNIMPLEMENTED" -> sentence(p.getMessage()) + " Update the PathoSAM server.";
                default -> sentence(p.getMessage());
            };
        }
        if (e instanceof IllegalArgumentException)
            return sentence(e.getMessage()) + " " + checkSettings;
        if (e instanceof IOException)
            return "Could not read the image's pixels: " + e.getMessage() + ". Check that the image file is reachable.";
        return "Unexpected error: " + e + ". " + seeLog;
    }

    /**
     * The exception a script should see: one exception with no cause (its deepest cause is itself),
     * because script runners such as QuPath's report an exception's deepest cause. A server or pixel
     * failure becomes an {@link AdvisedException} whose message is {@link #describe} and which keeps
     * the status code and the original; a cancellation a {@link CancellationException} saying nothing
     * changed; an invalid setting stays an {@link IllegalArgumentException} with its own message,
     * which names the option. A bug (see {@link #isUnexpected}) is returned as it is, with its stack
     * trace. {@link #describe} of the result is the same as of the original, whatever the wording.
     *
     * @param error the failure
     * @return the exception to throw instead
     */
    public RuntimeException advised(Throwable error) {
        Throwable e = unwrap(error);
        if (e instanceof AdvisedException a)
            return a; // its original is gone (deserialised): its message is all there is
        if (isCancellation(e))
            return new CancellationException(describe(e));
        if (isUnexpected(e))
            return error instanceof RuntimeException re ? re : new IllegalStateException(describe(e), error);
        if (e instanceof IllegalArgumentException)
            // Its message names the option already; it stays plain, so that any client's describe() applies.
            return e.getCause() == null ? (IllegalArgumentException) e : new IllegalArgumentException(e.getMessage());
        String code = e instanceof PathoSamException p ? p.statusCode() : "CLIENT";
        return new AdvisedException(code, describe(e), original(e));
    }

    private static Throwable original(Throwable error) {
        Throwable e = error;
        while (e instanceof AdvisedException a && a.failure() != null)
            e = a.failure();
        return e;
    }

    private static Throwable unwrap(Throwable error) {
        Throwable e = original(error);
        while ((e instanceof UncheckedIOException || e instanceof ExecutionException
                || e instanceof CompletionException) && e.getCause() != null)
            e = original(e.getCause());
        return e;
    }

    private static String sentence(String message) {
        if (message == null || message.isBlank())
            return "The PathoSAM call failed.";
        String s = Character.toUpperCase(message.charAt(0)) + message.substring(1);
        return s.endsWith(".") ? s : s + ".";
    }
}
