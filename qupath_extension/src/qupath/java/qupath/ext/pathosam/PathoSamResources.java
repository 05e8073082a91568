package qupath.ext.pathosam;

import java.text.MessageFormat;
import java.util.ResourceBundle;

/**
 * Messages of the scripting API, from {@code qupath/ext/pathosam/strings.properties}: what a run
 * records, returns and throws. The user interface has its own bundle (package {@code ui}).
 */
final class PathoSamResources {

    private static final ResourceBundle RESOURCES = ResourceBundle.getBundle("qupath.ext.pathosam.strings");

    private PathoSamResources() {
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
