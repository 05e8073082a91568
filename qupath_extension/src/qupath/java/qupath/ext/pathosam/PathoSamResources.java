package qupath.ext.pathosam;

import io.github.pathosam.client.ErrorAdvice;
import io.github.pathosam.client.ScaleCheck;

import java.text.MessageFormat;
import java.util.ResourceBundle;

/**
 * Messages of the scripting API, from {@code qupath/ext/pathosam/strings.properties}: what a run
 * records, returns and throws. The user interface has its own bundle (package {@code ui}).
 */
final class PathoSamResources {

    private static final ResourceBundle RESOURCES = ResourceBundle.getBundle("qupath.ext.pathosam.strings");

    /**
     * What to do after a failure, worded for a script (builder options, the preferences that
     * {@link PathoSam#builderFromPreferences()} reads, the environment); the notifications of
     * QuPath's window have their own wording in the UI bundle.
     */
    static final ErrorAdvice ADVICE = new ErrorAdvice(
            getString("advice.checkAddress"),
            getString("advice.setToken"),
            getString("advice.chooseModel"),
            getString("advice.checkSettings"),
            getString("advice.seeLog"));

    private PathoSamResources() {
    }

    /**
     * @param scale a scale check that warns
     * @return its diagnosis and how a script changes the scale
     */
    static String scaleWarning(ScaleCheck scale) {
        return scale.describe() + " " + getString(scale.verdict() == ScaleCheck.Verdict.MODEL_SCALE_UNKNOWN
                ? "advice.scaleUnknown" : "advice.scale");
    }

    /**
     * @param key a key of the bundle
     * @return its text
     */
    static String getString(String key) {
        return RESOURCES.getString(key);
    }

    /**
     * @param key  a key whose text is a {@link MessageFormat} pattern
     * @param args the pattern's arguments
     * @return the formatted text
     */
    static String format(String key, Object... args) {
        return MessageFormat.format(RESOURCES.getString(key), args);
    }
}
