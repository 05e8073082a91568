package io.github.pathosam.client;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.concurrent.CancellationException;

/**
 * Turns any failure of a PathoSAM run into one or two sentences for a user: what went wrong and
 * what to do. Stack traces belong in the log, never in a notification.
 */
public final class ErrorAdvice {

    private ErrorAdvice() {
    }

    /**
     * @param error the failure
     * @return whether the user cancelled (not an error to report)
     */
    public static boolean isCancellation(Throwable error) {
        for (Throwable t = error; t != null; t = t.getCause()) {
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
        return !(e instanceof PathoSamException || e instanceof IllegalArgumentException || e instanceof IOException
                || isCancellation(e));
    }

    /**
     * @param error the failure
     * @return a message for the user, ending with what to do
     */
    public static String describe(Throwable error) {
        Throwable e = unwrap(error);
        if (isCancellation(e))
            return "Cancelled: nothing was changed.";
        if (e instanceof ServerUnavailableException)
            return sentence(e.getMessage()) + " Check the server address in Edit > Preferences > PathoSAM.";
        if (e instanceof PathoSamException p) {
            return switch (p.statusCode()) {
                case "UNAUTHENTICATED", "PERMISSION_DENIED" ->
                        sentence(p.getMessage()) + " Set the token in Edit > Preferences > PathoSAM.";
                case "DEADLINE_EXCEEDED" ->
                        sentence(p.getMessage()) + " The server may be busy or slow (CPU); try a smaller region.";
                case "UNIMPLEMENTED" -> sentence(p.getMessage()) + " Update the PathoSAM server.";
                default -> sentence(p.getMessage());
            };
        }
        if (e instanceof IllegalArgumentException)
            return sentence(e.getMessage()) + " Check the PathoSAM settings.";
        if (e instanceof IOException)
            return "QuPath could not read the image's pixels: " + e.getMessage() + ". Check that the image file is reachable.";
        return "Unexpected error: " + e + ". See View > Show log for details.";
    }

    private static Throwable unwrap(Throwable error) {
        Throwable e = error;
        while ((e instanceof UncheckedIOException || e instanceof java.util.concurrent.ExecutionException
                || e instanceof java.util.concurrent.CompletionException) && e.getCause() != null)
            e = e.getCause();
        return e;
    }

    private static String sentence(String message) {
        if (message == null || message.isBlank())
            return "The PathoSAM call failed.";
        String s = Character.toUpperCase(message.charAt(0)) + message.substring(1);
        return s.endsWith(".") ? s : s + ".";
    }
}
