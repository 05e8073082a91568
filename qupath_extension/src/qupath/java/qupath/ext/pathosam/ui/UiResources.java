package qupath.ext.pathosam.ui;

import io.github.pathosam.client.ErrorAdvice;

import java.text.MessageFormat;
import java.util.ResourceBundle;

/** UI strings of the extension, from {@code qupath/ext/pathosam/ui/strings.properties}. */
final class UiResources {

    /** Bundle name, also handed to QuPath's preference items so that they localise the same way. */
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
