package qupath.ext.pathosam;

import io.github.pathosam.client.DetectionSettings;
import io.github.pathosam.client.DetectionSettingsBuilder;
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
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * PathoSAM nucleus detection for scripts, and the engine behind the toolbar command.
 *
 * <pre>{@code
 * def pathosam = qupath.ext.pathosam.PathoSam.builder()
 *     .server('localhost:50051')          // a running `pathosam serve`
 *     .model('vit_b_histopathology')
 *     .classify(true)
 *     .replace(true)
 *     .build()
 * pathosam.detectObjects(getCurrentImageData(), getSelectedObjects())
 * }</pre>
 *
 * <p>Nuclei become detections below the annotation (or TMA core) they lie in, clipped to it, with
 * the class the model gives them and the measurements {@code PathoSAM: score} and
 * {@code PathoSAM: class probability}. Each run is recorded in the image's workflow history as
 * builder code, so that QuPath's "Create script" and "Run for project" repeat it. The builder's
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
        PathoSamResults results = new DetectionRun(settings, imageData, progress).run(List.of(region));
        record(imageData, null);
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
        PathoSamResults results = new DetectionRun(settings, imageData, progress).run(regions);
        record(imageData, parents);
        return results;
    }

    /** Adds the run to the image's history as builder code (no token), for "Create script". */
    private void record(ImageData<BufferedImage> imageData, Collection<? extends PathObject> parents) {
        String call = parents == null ? ".detectObjects(getCurrentImageData())"
                : ".detectObjects(getCurrentImageData(), " + targetExpression(imageData.getHierarchy(), parents) + ")";
        String script = settings.toScript(SCRIPT_FACTORY) + "\n    " + call;
        imageData.getHistoryWorkflow().addStep(new DefaultScriptableWorkflowStep(
                PathoSamResources.getString("workflow.name"), settings.toMap(), script));
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
