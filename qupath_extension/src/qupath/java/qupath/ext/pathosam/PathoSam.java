package qupath.ext.pathosam;

import io.github.pathosam.client.DetectionSettings;
import io.github.pathosam.client.DetectionSettingsBuilder;
import io.github.pathosam.client.ErrorAdvice;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import qupath.lib.images.ImageData;
import qupath.lib.objects.PathObject;
import qupath.lib.objects.TMACoreObject;
import qupath.lib.objects.hierarchy.PathObjectHierarchy;
import qupath.lib.plugins.workflow.DefaultScriptableWorkflowStep;
import qupath.lib.regions.ImagePlane;

import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * PathoSAM nucleus detection for scripts, and the engine behind the toolbar command.
 *
 * <pre>{@code
 * def pathosam = qupath.ext.pathosam.PathoSam.builderFromPreferences()   // Edit > Preferences > PathoSAM
 *     .classify(true)                    // options given here override the preferences
 *     .build()
 * pathosam.detectObjects(getCurrentImageData(), getSelectedObjects())
 * }</pre>
 *
 * <p>Nuclei become detections below the annotation (or TMA core) they lie in, clipped to it, with
 * the class the model gives them and the measurements {@code PathoSAM: score} and
 * {@code PathoSAM: class probability}. Each run is recorded in the image's workflow history as
 * builder code with every option written out ({@link #builder()}), so that QuPath's "Create script"
 * and "Run for project" repeat it anywhere, and with its provenance (model, weights, server, pixel
 * sizes, tiles) as the step's parameters.
 *
 * <p>A failure is thrown as one exception whose message says what went wrong and what to do, and
 * which has no cause (QuPath's script runner shows the deepest cause), e.g. "No PathoSAM server at
 * 127.0.0.1:50051 — start one with `pathosam serve`. Check the server address ...". A run whose scale
 * does not suit the model (see {@link io.github.pathosam.client.ScaleCheck}) logs a warning first. The builder's
 * options and their defaults are documented on {@link DetectionSettingsBuilder}; a server token is
 * taken from {@link DetectionSettingsBuilder#token(String)}, else the PathoSAM preferences, else the
 * {@value ServerToken#ENV} environment variable ({@link ServerToken}), and never written into the history.
 *
 * <p>This class and everything it needs (run, results, tile source) are the adapter's scripting
 * side and do not depend on QuPath's user interface; the toolbar, tools and preferences
 * ({@code qupath.ext.pathosam.ui}) are built on top of it.
 */
public final class PathoSam {

    private static final Logger logger = LoggerFactory.getLogger(PathoSam.class);

    /** How recorded scripts obtain a builder (fully qualified: a script may have no import). */
    static final String SCRIPT_FACTORY = "qupath.ext.pathosam.PathoSam.builder()";

    private final DetectionSettings settings;

    private PathoSam(DetectionSettings settings) {
        this.settings = settings;
    }

    /**
     * @return a builder with the built-in defaults (not the preferences), so that a script does the
     *         same on every machine: 127.0.0.1:50051, the server's default model, its tiles and resolution
     */
    public static DetectionSettingsBuilder<PathoSam> builder() {
        return DetectionSettings.builder(PathoSam::new);
    }

    /**
     * A builder filled from the PathoSAM preferences (Edit &gt; Preferences &gt; PathoSAM: server,
     * model, tiles, pixel size, classes, replacement), as the toolbar command uses them; options set on
     * it afterwards override them. The script templates start here, so that they run against the
     * server and model the user set up; recorded workflow steps use {@link #builder()} with every
     * option written out instead, so that they repeat the same run anywhere.
     *
     * <p>Under {@code QuPath script} the preferences are those QuPath's window saved for the same user.
     *
     * @return a builder with the preferences' values
     */
    public static DetectionSettingsBuilder<PathoSam> builderFromPreferences() {
        return StoredPreferences.applyTo(builder());
    }

    /** @return the validated settings */
    public DetectionSettings getSettings() {
        return settings;
    }

    /**
     * Detects nuclei in the whole image (first z-slice and time point).
     *
     * @param imageData an RGB image
     * @return what was done
     * @throws io.github.pathosam.client.PathoSamException when the image is not RGB, or the server fails
     *         or cannot be reached
     * @throws java.util.concurrent.CancellationException when the thread is interrupted (nothing changes)
     */
    public PathoSamResults detectObjects(ImageData<BufferedImage> imageData) {
        return detectObjects(imageData, ImagePlane.getDefaultPlane(), DetectionProgress.NONE);
    }

    /**
     * Detects nuclei inside annotations or TMA cores; other objects are ignored.
     *
     * @param imageData an RGB image
     * @param parents   annotations / TMA cores; the detections become their children
     * @return what was done
     * @throws IllegalArgumentException when no parent is an annotation or a TMA core
     * @throws io.github.pathosam.client.PathoSamException when the image is not RGB, or the server fails
     *         or cannot be reached
     * @throws java.util.concurrent.CancellationException when the thread is interrupted (nothing changes)
     */
    public PathoSamResults detectObjects(ImageData<BufferedImage> imageData, Collection<? extends PathObject> parents) {
        return detectObjects(imageData, parents, DetectionProgress.NONE);
    }

    /**
     * Detects nuclei in the whole image at one plane, reporting progress (the toolbar command's entry point).
     *
     * @param imageData an RGB image
     * @param plane     the z-slice and time point to segment
     * @param progress  receives progress on this thread
     * @return what was done
     * @throws io.github.pathosam.client.PathoSamException when the image is not RGB, or the server fails
     *         or cannot be reached
     * @throws java.util.concurrent.CancellationException when the thread is interrupted (nothing changes)
     */
    public PathoSamResults detectObjects(ImageData<BufferedImage> imageData, ImagePlane plane, DetectionProgress progress) {
        Objects.requireNonNull(imageData, "imageData");
        var region = new DetectionRun.Region(imageData.getHierarchy().getRootObject(), null, plane);
        PathoSamResults results = run(imageData, List.of(region), progress);
        record(imageData, null, results);
        return results;
    }

    /**
     * Detects nuclei inside annotations or TMA cores, reporting progress (the toolbar command's entry point).
     *
     * @param imageData an RGB image
     * @param parents   annotations / TMA cores; the detections become their children
     * @param progress  receives progress on this thread
     * @return what was done
     * @throws IllegalArgumentException when no parent is an annotation or a TMA core
     * @throws io.github.pathosam.client.PathoSamException when the image is not RGB, or the server fails
     *         or cannot be reached
     * @throws java.util.concurrent.CancellationException when the thread is interrupted (nothing changes)
     */
    public PathoSamResults detectObjects(ImageData<BufferedImage> imageData, Collection<? extends PathObject> parents,
                                         DetectionProgress progress) {
        Objects.requireNonNull(imageData, "imageData");
        List<DetectionRun.Region> regions = new ArrayList<>();
        for (PathObject parent : parents) {
            boolean usable = parent.hasROI() && (parent.isAnnotation()
                    || (parent instanceof TMACoreObject core && !core.isMissing()));
            if (usable)
                regions.add(new DetectionRun.Region(parent, parent.getROI(), parent.getROI().getImagePlane()));
            else
                logger.debug("PathoSAM skips {}: not an annotation or TMA core", parent);
        }
        if (regions.isEmpty())
            throw new IllegalArgumentException(PathoSamResources.getString("error.noRegions"));
        PathoSamResults results = run(imageData, regions, progress);
        record(imageData, parents, results);
        return results;
    }

    /**
     * Runs, and turns a failure into one exception whose message is the advice and which has no
     * cause: QuPath's script runner reports an exception's deepest cause, which would otherwise be
     * Netty's "Connection refused" or gRPC's raw status (see {@link io.github.pathosam.client.AdvisedException}).
     */
    private PathoSamResults run(ImageData<BufferedImage> imageData, List<DetectionRun.Region> regions,
                                DetectionProgress progress) {
        try {
            return new DetectionRun(settings, imageData, progress).run(regions);
        } catch (RuntimeException e) {
            if (!ErrorAdvice.isUnexpected(e) && !ErrorAdvice.isCancellation(e))
                logger.debug("PathoSAM run failed", e);
            throw PathoSamResources.ADVICE.advised(e);
        }
    }

    /**
     * Adds the run to the image's history as builder code (no token), for "Create script"; its
     * parameters also say how the results were made (model, weights, server, pixel sizes, tiles), which
     * the image's data keeps as a property too ({@link PathoSamResults#PROVENANCE_PROPERTY}).
     */
    private void record(ImageData<BufferedImage> imageData, Collection<? extends PathObject> parents,
                        PathoSamResults results) {
        String call = parents == null ? ".detectObjects(getCurrentImageData())"
                : ".detectObjects(getCurrentImageData(), " + targetExpression(imageData.getHierarchy(), parents) + ")";
        String script = settings.toScript(SCRIPT_FACTORY) + "\n    " + call;
        Map<String, Object> parameters = new LinkedHashMap<>(settings.toMap());
        results.provenance().forEach(parameters::putIfAbsent);
        imageData.getHistoryWorkflow().addStep(new DefaultScriptableWorkflowStep(
                PathoSamResources.getString("workflow.name"), parameters, script));
        results.recordIn(imageData);
    }

    /**
     * The script expression that gives the same parents on a re-run: every annotation when that is
     * what was passed, otherwise the selection (a custom set of objects cannot be named in a script).
     */
    static String targetExpression(PathObjectHierarchy hierarchy, Collection<? extends PathObject> parents) {
        Set<PathObject> given = Collections.newSetFromMap(new IdentityHashMap<>());
        given.addAll(parents);
        Set<PathObject> annotations = Collections.newSetFromMap(new IdentityHashMap<>());
        annotations.addAll(hierarchy.getAnnotationObjects());
        return !annotations.isEmpty() && given.equals(annotations) ? "getAnnotationObjects()" : "getSelectedObjects()";
    }

    @Override
    public String toString() {
        return "PathoSam[" + settings + "]";
    }
}
