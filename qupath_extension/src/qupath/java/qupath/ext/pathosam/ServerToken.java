package qupath.ext.pathosam;

import javafx.beans.property.StringProperty;
import qupath.lib.gui.prefs.PathPrefs;

/**
 * The bearer token a run sends when its builder was given none: the PathoSAM preference, else the
 * {@value #ENV} environment variable.
 *
 * <p>Recorded workflow scripts never contain the token (it is a secret), so a re-run finds it
 * here, in QuPath's GUI and in a headless {@code QuPath script} alike. That is why the token, of
 * all preferences, lives beside the scripting API; the preference pane ({@code ui}) edits this
 * same property.
 */
public final class ServerToken {

    /** Environment variable read when neither a script nor the preferences give a token. */
    public static final String ENV = "PATHOSAM_TOKEN";

    private static final StringProperty PREFERENCE = PathPrefs.createPersistentPreference("pathosam.token", "");

    private ServerToken() {
    }

    /** @return the persistent preference; empty for none. Stored in QuPath's preferences in plain text */
    public static StringProperty preference() {
        return PREFERENCE;
    }

    /** @return the preference's token, else {@value #ENV}'s, else null for none */
    public static String fallback() {
        String pref = PREFERENCE.get();
        if (pref != null && !pref.isBlank())
            return pref.strip();
        String env = System.getenv(ENV);
        return env == null || env.isBlank() ? null : env.strip();
    }
}
