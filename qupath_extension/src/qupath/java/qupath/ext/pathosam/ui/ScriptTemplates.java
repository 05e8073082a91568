package qupath.ext.pathosam.ui;

import javafx.scene.control.Menu;
import javafx.scene.control.MenuItem;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import qupath.fx.dialogs.Dialogs;
import qupath.lib.gui.QuPathGUI;
import qupath.lib.gui.UserDirectoryManager;
import qupath.lib.projects.Projects;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The Groovy templates under {@code qupath/ext/pathosam/ui/scripts/}, opened in QuPath's script
 * editor from the menu. They live beside this class, not at the root of the jar: QuPath loads
 * every extension through one class loader, where a root {@code scripts/} folder is shared by all.
 *
 * <p>A template opens as a file with its own name, not as "Untitled": QuPath's editor names a tab
 * only after its file. The file goes where QuPath looks for scripts: the project's {@code scripts}
 * folder (Automate &gt; Project scripts, and a path for {@code QuPath script -p}), else the user's
 * scripts folder (Automate &gt; User scripts), else a temporary folder. An existing file of the same
 * name that differs from the template is the user's edited copy: it is opened, never overwritten.
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
            MenuItem item = new MenuItem(UiResources.getString(e.getKey()));
            item.setOnAction(a -> open(qupath, e.getValue()));
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

    private static void open(QuPathGUI qupath, String path) {
        var editor = qupath.getScriptEditor();
        String title = UiResources.getString("title");
        if (editor == null) {
            Dialogs.showErrorNotification(title, UiResources.getString("error.noEditor"));
            return;
        }
        try {
            String text = read(path);
            Folder folder = folder(qupath);
            Path file = folder.path().resolve(Path.of(path).getFileName().toString());
            if (Files.isRegularFile(file) && !Files.readString(file, StandardCharsets.UTF_8).equals(text)) {
                Dialogs.showInfoNotification(title, UiResources.format("script.edited", file));
            } else if (!Files.isRegularFile(file)) {
                Files.createDirectories(folder.path());
                Files.writeString(file, text, StandardCharsets.UTF_8);
                Dialogs.showInfoNotification(title, UiResources.format(folder.messageKey(), file));
            }
            editor.showScript(file.toFile());
        } catch (IOException e) {
            logger.error("Cannot open the script template {}", path, e);
            Dialogs.showErrorNotification(title, e.getMessage());
        }
    }

    /** Where a template's file goes, and how the notification names the place. */
    private record Folder(Path path, String messageKey) {
    }

    private static Folder folder(QuPathGUI qupath) {
        var project = qupath.getProject();
        File base = project == null ? null : Projects.getBaseDirectory(project);
        if (base != null)
            return new Folder(base.toPath().resolve("scripts"), "script.savedInProject");
        Path user = UserDirectoryManager.getInstance().scriptsDirectoryProperty().get();
        if (user != null)
            return new Folder(user, "script.savedForUser");
        return new Folder(Path.of(System.getProperty("java.io.tmpdir"), "pathosam-scripts"), "script.savedTemporarily");
    }
}
