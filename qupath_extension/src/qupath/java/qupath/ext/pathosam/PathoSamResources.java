package qupath.ext.pathosam;

import java.text.MessageFormat;
import java.util.ResourceBundle;

/** UI strings of the extension, from {@code qupath/ext/pathosam/strings.properties}. */
final class PathoSamResources {

    /** Bundle name, also handed to QuPath's preference items so that they localise the same way. */
    static final String BUNDLE = "qupath.ext.pathosam.strings";

    private static final ResourceBundle RESOURCES = ResourceBundle.getBundle(BUNDLE);

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
