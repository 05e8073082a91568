package qupath.ext.pathosam.ui;

import io.github.pathosam.client.ErrorAdvice;
import io.github.pathosam.client.ScaleCheck;
import io.github.pathosam.client.TileProgress;
import javafx.concurrent.Task;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import qupath.ext.pathosam.DetectionProgress;
import qupath.ext.pathosam.PathoSam;
import qupath.ext.pathosam.PathoSamResults;
import qupath.fx.dialogs.Dialogs;
import qupath.fx.utils.FXUtils;
import qupath.lib.gui.QuPathGUI;
import qupath.lib.images.ImageData;
import qupath.lib.objects.PathObject;
import qupath.lib.objects.classes.PathClass;
import qupath.lib.regions.ImagePlane;

import java.awt.image.BufferedImage;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CancellationException;

/**
 * The "Detect nuclei" command: the selected annotations (or, after asking, the whole image) are
 * segmented in the background with the preferences' settings, with progress and a Cancel button;
 * the outcome is a notification, never a stack trace.
 */
final class DetectNucleiCommand {

    private static final Logger logger = LoggerFactory.getLogger(DetectNucleiCommand.class);

    private final QuPathGUI qupath;
    private final ServerStatus status;
    private final Set<String> acceptedScales = new HashSet<>();
    private DetectionTask running;

    DetectNucleiCommand(QuPathGUI qupath, ServerStatus status) {
        this.qupath = qupath;
        this.status = status;
    }

    /** Runs the command; call on the JavaFX thread. */
    void run() {
        String title = UiResources.getString("title");
        ImageData<BufferedImage> imageData = qupath.getImageData();
        if (imageData == null) {
            Dialogs.showWarningNotification(title, UiResources.getString("error.noImage"));
            return;
        }
        if (running != null && running.isRunning()) {
            Dialogs.showInfoNotification(title, UiResources.getString("error.alreadyRunning"));
            return;
        }
        PathoSam detector;
        try {
            detector = PathoSam.builderFromPreferences().build();
        } catch (IllegalArgumentException e) {
            Dialogs.showErrorNotification(title, UiResources.ADVICE.describe(e));
            return;
        }
        List<PathObject> parents = imageData.getHierarchy().getSelectionModel().getSelectedObjects().stream()
                .filter(p -> p.hasROI() && (p.isAnnotation() || p.isTMACore()))
                .toList();
        ImagePlane plane = qupath.getViewer() == null ? ImagePlane.getDefaultPlane() : qupath.getViewer().getImagePlane();
        if (parents.isEmpty() && !Dialogs.showConfirmDialog(title, UiResources.format("confirm.wholeImage",
                imageData.getServer().getWidth(), imageData.getServer().getHeight())))
            return;

        DetectionTask task = new DetectionTask(detector, imageData, parents, plane, this::confirmScale);
        task.setOnSucceeded(e -> succeeded(task.getValue()));
        task.setOnFailed(e -> failed(task.getException()));
        task.setOnCancelled(e -> Dialogs.showInfoNotification(title, UiResources.ADVICE.describe(new CancellationException())));
        running = task;
        ProgressWindow.show(qupath.getStage(), title, task);
        Thread worker = new Thread(task, "pathosam-detect");
        worker.setDaemon(true);
        worker.start();
    }

    /**
     * Asks, on the JavaFX thread, whether to run at a scale far from the model's; a yes is remembered
     * for this image and scale until QuPath closes. Called on the worker thread, which waits.
     */
    private boolean confirmScale(ImageData<BufferedImage> imageData, ScaleCheck scale) {
        String key = System.identityHashCode(imageData) + "|" + scale.runPixelSizeUm() + "|" + scale.modelPixelSizeUm();
        synchronized (acceptedScales) {
            if (acceptedScales.contains(key))
                return true;
        }
        boolean go = FXUtils.callOnApplicationThread(() -> Dialogs.showConfirmDialog(UiResources.getString("title"),
                UiResources.scaleWarning(scale) + "\n\n"
                        + UiResources.getString("confirm.scale")));
        if (go) {
            synchronized (acceptedScales) {
                acceptedScales.add(key);
            }
        }
        return go;
    }

    private void succeeded(PathoSamResults results) {
        logger.info("PathoSAM: {}", results.summary());
        // Make the model's classes selectable in QuPath's class list, as detections already use them.
        var available = qupath.getAvailablePathClasses();
        for (String name : results.nucleiPerClass().keySet()) {
            PathClass pathClass = name.isEmpty() ? null : PathClass.fromString(name);
            if (pathClass != null && !available.contains(pathClass))
                available.add(pathClass);
        }
        Dialogs.showInfoNotification(UiResources.getString("title"), results.summary());
        status.refresh();
    }

    private void failed(Throwable error) {
        if (ErrorAdvice.isCancellation(error)) {
            // E.g. "Cancel" at the scale warning: the run stopped before it started; not an error.
            Dialogs.showInfoNotification(UiResources.getString("title"), UiResources.ADVICE.describe(error));
            return;
        }
        if (ErrorAdvice.isUnexpected(error))
            logger.error("PathoSAM detection failed", error);
        else
            logger.warn("PathoSAM detection failed: {}", error.getMessage());
        Dialogs.showErrorNotification(UiResources.getString("title"), UiResources.ADVICE.describe(error));
        status.refresh();
    }

    /** Asks whether to run despite a scale warning. */
    @FunctionalInterface
    private interface ScaleQuestion {
        boolean ask(ImageData<BufferedImage> imageData, ScaleCheck scale);
    }

    /**
     * The run on a worker thread; its progress callback feeds the task's message and progress: an
     * indeterminate bar and "encoding tile 1 of N" at once, then the share of tiles done and an
     * estimate of the time left from the tiles so far.
     */
    private static final class DetectionTask extends Task<PathoSamResults> implements DetectionProgress {

        private final PathoSam detector;
        private final ImageData<BufferedImage> imageData;
        private final List<PathObject> parents;
        private final ImagePlane plane;
        private final ScaleQuestion question;
        private long tilesStartNanos;

        DetectionTask(PathoSam detector, ImageData<BufferedImage> imageData, List<PathObject> parents, ImagePlane plane,
                      ScaleQuestion question) {
            this.detector = detector;
            this.imageData = imageData;
            this.parents = parents;
            this.plane = plane;
            this.question = question;
        }

        @Override
        protected PathoSamResults call() {
            updateMessage(UiResources.getString("progress.connecting"));
            return parents.isEmpty() ? detector.detectObjects(imageData, plane, this)
                    : detector.detectObjects(imageData, parents, this);
        }

        @Override
        public boolean proceedDespite(ScaleCheck scale) {
            return question.ask(imageData, scale);
        }

        @Override
        public void update(int region, int regions, TileProgress tile) {
            // Task coalesces these onto the JavaFX thread itself.
            if (tile == null) {
                updateProgress(-1, 1);
                updateMessage(message(region, regions, "progress.region"));
                return;
            }
            int done = tile.tilesDone();
            int total = tile.tilesTotal();
            if (done == 0) {
                tilesStartNanos = System.nanoTime();
                updateProgress(-1, 1);
                updateMessage(message(region, regions, "progress.encoding", 1, total));
                return;
            }
            updateProgress(region + tile.fraction(), Math.max(1, regions));
            if (done >= total) {
                updateMessage(message(region, regions, "progress.regionDone", total));
                return;
            }
            double perTile = (System.nanoTime() - tilesStartNanos) / 1e9 / done;
            updateMessage(message(region, regions, "progress.tile", done + 1, total, timeLeft(perTile * (total - done))));
        }

        /** The message, after "Region 2 of 3:" when there are several regions; one sentence either way. */
        private static String message(int region, int regions, String key, Object... args) {
            String text = UiResources.format(key, args);
            if (regions > 1)
                return UiResources.format("progress.regionPrefix", region + 1, regions) + " " + text;
            return Character.toUpperCase(text.charAt(0)) + text.substring(1);
        }

        private static String timeLeft(double seconds) {
            return seconds < 90 ? UiResources.format("progress.seconds", Math.max(1, Math.round(seconds)))
                    : UiResources.format("progress.minutes", Math.round(seconds / 60));
        }
    }
}
