package qupath.ext.pathosam.ui;

import javafx.scene.control.Menu;
import javafx.scene.control.MenuItem;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import qupath.fx.dialogs.Dialogs;
import qupath.lib.gui.QuPathGUI;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The Groovy templates under {@code qupath/ext/pathosam/ui/scripts/}, opened in QuPath's script
 * editor from the menu. They live beside this class, not at the root of the jar: QuPath loads
 * every extension through one class loader, where a root {@code scripts/} folder is shared by all.
 */
final class ScriptTemplates {

    private static final Logger logger = LoggerFactory.getLogger(ScriptTemplates.class);

    /** Menu text key to resource path, relative to this class's package. */
    private static final Map<String, String> SCRIPTS = new LinkedHashMap<>();

    static {
        SCRIPTS.put("script.selected", "scripts/PathoSamSelectedAnnotations.groovy");
        SCRIPTS.put("script.project", "scripts/PathoSamWholeProject.groovy");
        SCRIPTS.put("script.geojson", "scripts/PathoSamExportGeoJson.groovy");
    }

    private ScriptTemplates() {
    }

    /**
     * @param qupath the QuPath instance
     * @return a submenu with one item per template
     */
    static Menu createMenu(QuPathGUI qupath) {
        Menu menu = new Menu(UiResources.getString("menu.scripts"));
        for (Map.Entry<String, String> e : SCRIPTS.entrySet()) {
            String name = UiResources.getString(e.getKey());
            MenuItem item = new MenuItem(name);
            item.setOnAction(a -> open(qupath, name, e.getValue()));
            menu.getItems().add(item);
        }
        return menu;
    }

    /**
     * @param path a resource path relative to this class's package, such as {@code scripts/PathoSamWholeProject.groovy}
     * @return the script's text
     * @throws IOException when the resource is missing
     */
    static String read(String path) throws IOException {
        try (InputStream in = ScriptTemplates.class.getResourceAsStream(path)) {
            if (in == null)
                throw new IOException("resource not found: " + path);
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static void open(QuPathGUI qupath, String name, String path) {
        var editor = qupath.getScriptEditor();
        if (editor == null) {
            Dialogs.showErrorNotification(UiResources.getString("title"), UiResources.getString("error.noEditor"));
            return;
        }
        try {
            editor.showScript(name, read(path));
        } catch (IOException e) {
            logger.error("Cannot open the script template {}", path, e);
            Dialogs.showErrorNotification(UiResources.getString("title"), e.getMessage());
        }
    }
}
