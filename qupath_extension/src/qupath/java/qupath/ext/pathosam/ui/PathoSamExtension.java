package qupath.ext.pathosam.ui;

import javafx.scene.control.Button;
import javafx.scene.control.Menu;
import javafx.scene.control.MenuItem;
import javafx.scene.control.Separator;
import javafx.scene.control.SeparatorMenuItem;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import qupath.lib.common.GeneralTools;
import qupath.lib.common.Version;
import qupath.lib.gui.QuPathGUI;
import qupath.lib.gui.actions.ActionTools;
import qupath.lib.gui.extensions.QuPathExtension;
import qupath.lib.gui.viewer.tools.PathTool;

/**
 * The PathoSAM extension: a menu (Extensions &gt; PathoSAM), toolbar buttons for automatic detection
 * (showing the server's state) and the two prompt tools, preferences and script templates. The work
 * itself happens in {@link qupath.ext.pathosam.PathoSam} and the client core ({@code io.github.pathosam.client}).
 *
 * <p>One jar serves QuPath 0.6 and 0.7: compiled against either release, the adapter's class files
 * are byte for byte the same (every QuPath, JavaFX and ControlsFX member it uses has the same
 * signature in both), and it targets Java 21, which QuPath 0.6 runs on. {@link #getQuPathVersion()}
 * names the oldest release it was written for, {@link #QUPATH_MAX} the newest it was tested on; the
 * extension catalog ({@code catalog/catalog.json}) states the same range.
 *
 * <p>It names no GitHub repository ({@code GitHubProject}): the project has not published one, and
 * a guessed owner/name would point QuPath's users at a stranger's repository. QuPath finds
 * extension updates through extension catalogs instead.
 */
public class PathoSamExtension implements QuPathExtension {

    private static final Logger logger = LoggerFactory.getLogger(PathoSamExtension.class);

    private static final String EXTENSION_NAME = "PathoSAM";
    /** The oldest QuPath release this extension is written and tested for (the catalog's minimum). */
    static final String QUPATH_MIN = "v0.6.0";
    /** The newest QuPath release this extension has been tested on (the catalog's maximum, inclusive). */
    static final String QUPATH_MAX = "v0.7.0";
    private static final String EXTENSION_DESCRIPTION =
            "Nucleus segmentation and classification with PathoSAM (Segment Anything for histopathology), "
                    + "run by a PathoSAM gRPC server on this machine or a GPU box. For QuPath 0.6 and 0.7";
    // Same as pom.xml and build.gradle (tests/test_build_versions.py checks the three agree).
    private static final String EXTENSION_VERSION = "0.1.0-SNAPSHOT";
    private static final Version EXTENSION_QUPATH_VERSION = Version.parse(QUPATH_MIN);

    // QuPath may offer the same extension twice (e.g. a jar both in the user folder and a catalog).
    private boolean isInstalled = false;

    @Override
    public void installExtension(QuPathGUI qupath) {
        if (isInstalled) {
            logger.debug("{} is already installed", getName());
            return;
        }
        isInstalled = true;
        warnIfUntested(QuPathGUI.getVersion());

        ServerStatus status = new ServerStatus();
        DetectNucleiCommand detect = new DetectNucleiCommand(qupath, status);
        PromptController prompts = new PromptController(status);
        PathTool pointTool = PromptTools.pointTool(qupath, prompts);
        PathTool boxTool = PromptTools.boxTool(qupath, prompts);
        // Short names for the menus; what a click does goes into the tooltip (the action's long text),
        // set before the toolbar button is made from the action.
        var tools = qupath.getToolManager();
        tools.getToolAction(pointTool).setLongText(UiResources.getString("tool.point.description"));
        tools.getToolAction(boxTool).setLongText(UiResources.getString("tool.box.description"));
        tools.installTool(pointTool, null);
        tools.installTool(boxTool, null);

        PathoSamPreferences.install(qupath);
        installMenu(qupath, detect, status, pointTool, boxTool);
        installToolbar(qupath, detect, status);

        // Text preferences change when committed (Enter / focus lost), and the check waits a moment
        // for a burst of them: never one check per keystroke.
        for (var property : PathoSamPreferences.connectionProperties())
            property.addListener((v, o, n) -> status.refreshSoon());
        status.refresh();
    }

    private static void installMenu(QuPathGUI qupath, DetectNucleiCommand detect, ServerStatus status,
                                    PathTool pointTool, PathTool boxTool) {
        Menu menu = qupath.getMenu("Extensions>" + EXTENSION_NAME, true);
        MenuItem detectItem = new MenuItem(UiResources.getString("menu.detect"), PathoSamIcons.detect(StatusIndicator.colour(status)));
        detectItem.setOnAction(e -> detect.run());
        var tools = qupath.getToolManager();
        menu.getItems().addAll(
                detectItem,
                ActionTools.createMenuItem(tools.getToolAction(pointTool)),
                ActionTools.createMenuItem(tools.getToolAction(boxTool)),
                new SeparatorMenuItem(),
                StatusIndicator.checkItem(status),
                ActionTools.createMenuItem(qupath.getCommonActions().PREFERENCES),
                new SeparatorMenuItem(),
                ScriptTemplates.createMenu(qupath));
    }

    private static void installToolbar(QuPathGUI qupath, DetectNucleiCommand detect, ServerStatus status) {
        var toolbar = qupath.getToolBar();
        if (toolbar == null)
            return;
        Button button = StatusIndicator.detectButton(status, detect::run);
        toolbar.getItems().addAll(new Separator(), button);
    }

    /**
     * Logs a warning when the running QuPath lies outside the tested range (a newer patch release of
     * a tested minor release counts as tested). QuPath itself loads any extension whatever it reports.
     */
    private static void warnIfUntested(Version running) {
        if (running == null || Version.UNKNOWN.equals(running))
            return;
        Version min = Version.parse(QUPATH_MIN), max = Version.parse(QUPATH_MAX);
        boolean tooOld = Version.COMPARATOR_MAJOR_MINOR_PATCH.compare(running, min) < 0;
        boolean tooNew = Version.COMPARATOR_MAJOR_MINOR.compare(running, max) > 0;
        if (tooOld || tooNew)
            logger.warn("{} {} is tested on QuPath {} to {}, not {}: some features may fail",
                    EXTENSION_NAME, clientVersion(), QUPATH_MIN, QUPATH_MAX, running);
    }

    @Override
    public String getName() {
        return EXTENSION_NAME;
    }

    @Override
    public String getDescription() {
        return EXTENSION_DESCRIPTION;
    }

    /** @return the oldest QuPath release this extension was written for, {@value #QUPATH_MIN} (it runs on 0.6 and 0.7) */
    @Override
    public Version getQuPathVersion() {
        return EXTENSION_QUPATH_VERSION;
    }

    /** @return the jar manifest's Implementation-Version, else the version this source was released as */
    @Override
    public Version getVersion() {
        return Version.parse(clientVersion());
    }

    /** @return this extension's version as text (the jar manifest's, else the source's), for the compatibility check */
    static String clientVersion() {
        String fromJar = GeneralTools.getPackageVersion(PathoSamExtension.class);
        return fromJar == null || fromJar.isBlank() ? EXTENSION_VERSION : fromJar;
    }
}
