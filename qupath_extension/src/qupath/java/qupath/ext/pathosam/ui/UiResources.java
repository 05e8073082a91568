package qupath.ext.pathosam.ui;

import io.github.pathosam.client.ErrorAdvice;
import io.github.pathosam.client.ScaleCheck;

import java.text.MessageFormat;
import java.util.ResourceBundle;

/** UI strings of the extension, from {@code qupath/ext/pathosam/ui/strings.properties}. */
final class UiResources {

    /** Bundle name; looked up through this class's loader, which sees the extension's jar. */
    static final String BUNDLE = "qupath.ext.pathosam.ui.strings";

    private static final ResourceBundle RESOURCES = ResourceBundle.getBundle(BUNDLE);

    /** What to do after a failure, in QuPath's terms (menu paths), for every notification. */
    static final ErrorAdvice ADVICE = new ErrorAdvice(
            getString("advice.checkAddress"),
            getString("advice.setToken"),
            getString("advice.chooseModel"),
            getString("advice.checkSettings"),
            getString("advice.seeLog"));

    private UiResources() {
    }

    /**
     * @param scale a scale check that warns
     * @return its diagnosis and where in QuPath to change the scale
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
