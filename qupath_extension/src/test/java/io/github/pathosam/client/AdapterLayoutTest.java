package io.github.pathosam.client;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.MessageFormat;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The QuPath adapter compiles only against a real QuPath, so CI reads its sources instead: the
 * scripting package never depends on the UI package, every string key the code names is in its
 * package's bundle (and every bundle key is used), templates and the service file point at what
 * exists, and the advice a QuPath user sees still says where to fix things.
 */
class AdapterLayoutTest {

    private static final Path JAVA = Path.of("src/qupath/java/qupath/ext/pathosam");
    private static final Path RESOURCES = Path.of("src/qupath/resources");
    private static final Path UI_BUNDLE = RESOURCES.resolve("qupath/ext/pathosam/ui/strings.properties");
    private static final Path API_BUNDLE = RESOURCES.resolve("qupath/ext/pathosam/strings.properties");
    /** String literals that are bundle keys: a known prefix, then dot-separated words. */
    private static final Pattern KEY = Pattern.compile(
            "\"((?:title|menu|toolbar|tool|script|prefs|progress|confirm|status|prompt|error|advice|workflow|results)(?:\\.\\w+)*)\"");

    private static String read(Path p) {
        try {
            return Files.readString(p, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static List<Path> sources(Path folder) throws IOException {
        try (Stream<Path> files = Files.list(folder)) {
            return files.filter(p -> p.toString().endsWith(".java")).sorted().toList();
        }
    }

    private static Properties bundle(Path file) throws IOException {
        Properties p = new Properties();
        try (Reader in = Files.newBufferedReader(file, StandardCharsets.ISO_8859_1)) {
            p.load(in);
        }
        return p;
    }

    private static Set<String> keysNamedIn(List<Path> files) {
        Set<String> keys = new TreeSet<>();
        for (Path f : files) {
            Matcher m = KEY.matcher(read(f));
            while (m.find())
                keys.add(m.group(1));
        }
        return keys;
    }

    @Test
    void theScriptingPackageNeverImportsTheUi() throws IOException {
        for (Path f : sources(JAVA))
            assertTrue(read(f).lines().noneMatch(l -> l.matches("\\s*import\\s+(static\\s+)?qupath\\.ext\\.pathosam\\.ui\\..*")),
                    f + " imports the UI package");
    }

    @Test
    void pathoSamKeepsTheNameRecordedScriptsUse() {
        String source = read(JAVA.resolve("PathoSam.java"));
        assertTrue(source.contains("package qupath.ext.pathosam;"));
        assertTrue(source.contains("public final class PathoSam "));
        assertTrue(source.contains("SCRIPT_FACTORY = \"qupath.ext.pathosam.PathoSam.builder()\""));
    }

    @Test
    void everyKeyTheCodeNamesIsInItsPackagesBundleAndEveryKeyIsUsed() throws IOException {
        checkBundle(sources(JAVA), API_BUNDLE);
        checkBundle(sources(JAVA.resolve("ui")), UI_BUNDLE);
    }

    private static void checkBundle(List<Path> code, Path file) throws IOException {
        Properties strings = bundle(file);
        Set<String> named = keysNamedIn(code);
        Set<String> missing = new TreeSet<>(named);
        missing.removeAll(strings.stringPropertyNames());
        assertEquals(Set.of(), missing, "keys missing from " + file);
        Set<String> unused = new TreeSet<>(strings.stringPropertyNames());
        unused.removeAll(named);
        // QuPath's preference items read "<key>.description" themselves.
        unused.removeIf(k -> k.endsWith(".description") && named.contains(k.substring(0, k.length() - ".description".length())));
        assertEquals(Set.of(), unused, "keys of " + file + " that no code uses");
        for (String key : strings.stringPropertyNames())
            assertDoesNotThrow(() -> new MessageFormat(strings.getProperty(key)), key);
    }

    @Test
    void templatesAndTheServiceFilePointAtWhatExists() {
        String templates = read(JAVA.resolve("ui/ScriptTemplates.java"));
        Matcher m = Pattern.compile("\"(scripts/[\\w.]+\\.groovy)\"").matcher(templates);
        int found = 0;
        while (m.find()) {
            found++;
            Path script = RESOURCES.resolve("qupath/ext/pathosam/ui").resolve(m.group(1));
            assertTrue(Files.isRegularFile(script), script.toString());
            String text = read(script);
            assertTrue(!text.contains("PathoSam.builder()") || text.contains("qupath.ext.pathosam.PathoSam.builder()"), script.toString());
        }
        assertEquals(3, found);
        String service = read(RESOURCES.resolve("META-INF/services/qupath.lib.gui.extensions.QuPathExtension")).strip();
        assertEquals("qupath.ext.pathosam.ui.PathoSamExtension", service);
        assertTrue(Files.isRegularFile(Path.of("src/qupath/java", service.replace('.', '/') + ".java")));
    }

    private static List<Path> templates() throws IOException {
        try (Stream<Path> files = Files.list(RESOURCES.resolve("qupath/ext/pathosam/ui/scripts"))) {
            return files.filter(p -> p.toString().endsWith(".groovy")).sorted().toList();
        }
    }

    @Test
    void templatesStartFromThePreferencesWithTheOverridesCommentedOut() throws IOException {
        Set<String> options = new TreeSet<>();
        for (var m : DetectionSettingsBuilder.class.getMethods())
            options.add(m.getName());
        int builders = 0;
        for (Path template : templates()) {
            String text = read(template);
            assertTrue(!text.contains("PathoSam.builder()"), template + " hard-codes the built-in defaults");
            int start = text.indexOf("qupath.ext.pathosam.PathoSam.builderFromPreferences()");
            if (start < 0)
                continue;
            builders++;
            List<String> chain = text.substring(start, text.indexOf(".build()", start)).lines().skip(1).toList();
            assertTrue(!chain.isEmpty(), template.toString());
            Matcher option = Pattern.compile("^//\\s*\\.(\\w+)\\(").matcher("");
            for (String line : chain) {
                assertTrue(line.isBlank() || line.startsWith("//"), template + ": an override that is not commented out: " + line);
                // Every option shown is one the builder has (a renamed option would break the template).
                Matcher m = Pattern.compile("\\.(\\w+)\\(").matcher(line.replaceFirst("\\s//.*$", ""));
                while (m.find())
                    assertTrue(options.contains(m.group(1)), template + " shows ." + m.group(1) + "(), which the builder lacks");
            }
            assertTrue(chain.stream().anyMatch(l -> l.contains(".server(")), template + " shows how to override the server");
            assertTrue(chain.stream().anyMatch(l -> l.contains(".model(")), template + " shows how to override the model");
            assertTrue(option.reset(chain.get(0)).find(), template.toString());
        }
        assertEquals(2, builders, "the detection templates");
        String api = read(JAVA.resolve("PathoSam.java"));
        assertTrue(api.contains("public static DetectionSettingsBuilder<PathoSam> builderFromPreferences()"));
        assertTrue(read(JAVA.resolve("StoredPreferences.java")).contains("\"pathosam.server\""),
                "the preference keys users already have");
    }

    @Test
    void templatesSayHowToRunThemFromTheCommandLineAndTheProjectOneWorksBothWays() throws IOException {
        for (Path template : templates())
            assertTrue(read(template).contains("QuPath script -p "), template + " does not show its command line");
        String project = read(RESOURCES.resolve("qupath/ext/pathosam/ui/scripts/PathoSamWholeProject.groovy"));
        // QuPath visits the images itself under `QuPath script -p` and Run for project: the template must not loop then.
        for (String needed : List.of("QuPathGUI.getInstance()", "'qupath.script.batchSize'", "'qupath.script.batchSave'",
                "getProjectEntry()", "project.getImageList()"))
            assertTrue(project.contains(needed), "PathoSamWholeProject.groovy lacks " + needed);
    }

    @Test
    void scriptsAreToldWhereToFixThingsInTheirOwnTerms() throws IOException {
        Properties api = bundle(API_BUNDLE);
        assertTrue(api.getProperty("advice.checkAddress").contains(".server('host:port')"));
        assertTrue(api.getProperty("advice.setToken").contains(".token(") && api.getProperty("advice.setToken").contains("PATHOSAM_TOKEN"));
        assertTrue(api.getProperty("advice.chooseModel").contains(".model("));
        assertTrue(api.getProperty("advice.scale").contains(".pixelSize()"));
        assertTrue(api.getProperty("advice.scaleUnknown").contains("--pixel-size-um"));
        Properties ui = bundle(UI_BUNDLE);
        assertTrue(ui.getProperty("advice.scale").contains("Edit > Preferences > PathoSAM"));
        assertTrue(ui.getProperty("advice.scaleUnknown").contains("--pixel-size-um"));
        // Every run of the scripting API rethrows through the advice: no Netty cause reaches QuPath's script runner.
        String api2 = read(JAVA.resolve("PathoSam.java"));
        assertTrue(api2.contains("throw PathoSamResources.ADVICE.advised(e);"));
    }

    @Test
    void qupathUsersAreToldWhereToFixThings() throws IOException {
        Properties ui = bundle(UI_BUNDLE);
        ErrorAdvice advice = new ErrorAdvice(ui.getProperty("advice.checkAddress"), ui.getProperty("advice.setToken"),
                ui.getProperty("advice.chooseModel"), ui.getProperty("advice.checkSettings"), ui.getProperty("advice.seeLog"));
        assertEquals("No PathoSAM server at h:1 — start one with `pathosam serve`. Check the server address in "
                + "Edit > Preferences > PathoSAM.", advice.describe(new ServerUnavailableException(Errors.noServer("h:1"), null)));
        assertTrue(advice.describe(new PathoSamException("UNAUTHENTICATED", "refused", null))
                .endsWith("Set the token in Edit > Preferences > PathoSAM."));
        assertTrue(advice.describe(new PathoSamException("NOT_FOUND", "no model 'x'", null))
                .endsWith("Set the model in Edit > Preferences > PathoSAM (empty for the server's default)."));
        assertTrue(advice.describe(new IllegalArgumentException("tileSize must be 16-4096 pixels, not 8"))
                .endsWith("Check the settings in Edit > Preferences > PathoSAM."));
        assertTrue(advice.describe(new IllegalStateException("bug")).endsWith("See View > Show log for details."));
    }

    @Test
    void theCoreNamesNoQuPathMenu() throws IOException {
        try (Stream<Path> files = Files.walk(Path.of("src/main/java/io/github/pathosam/client"))) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList())
                assertTrue(!read(f).contains("Edit > Preferences") && !read(f).contains("View > Show log"), f.toString());
        }
    }
}
