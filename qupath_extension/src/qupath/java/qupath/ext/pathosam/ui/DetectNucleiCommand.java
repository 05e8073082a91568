package qupath.ext.pathosam.ui;

import io.github.pathosam.client.ErrorAdvice;
import io.github.pathosam.client.TileProgress;
import javafx.concurrent.Task;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import qupath.ext.pathosam.DetectionProgress;
import qupath.ext.pathosam.PathoSam;
import qupath.ext.pathosam.PathoSamResults;
import qupath.fx.dialogs.Dialogs;
import qupath.lib.gui.QuPathGUI;
import qupath.lib.images.ImageData;
import qupath.lib.objects.PathObject;
import qupath.lib.objects.classes.PathClass;
import qupath.lib.regions.ImagePlane;

import java.awt.image.BufferedImage;
import java.util.List;
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
            detector = PathoSamPreferences.applyTo(PathoSam.builder()).build();
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

        DetectionTask task = new DetectionTask(detector, imageData, parents, plane);
        task.setOnSucceeded(e -> succeeded(task.getValue()));
        task.setOnFailed(e -> failed(task.getException()));
        task.setOnCancelled(e -> Dialogs.showInfoNotification(title, UiResources.ADVICE.describe(new CancellationException())));
        running = task;
        ProgressWindow.show(qupath.getStage(), title, task);
        Thread worker = new Thread(task, "pathosam-detect");
        worker.setDaemon(true);
        worker.start();
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
        if (ErrorAdvice.isUnexpected(error))
            logger.error("PathoSAM detection failed", error);
        else
            logger.warn("PathoSAM detection failed: {}", error.getMessage());
        Dialogs.showErrorNotification(UiResources.getString("title"), UiResources.ADVICE.describe(error));
        status.refresh();
    }

    /** The run on a worker thread; its progress callback feeds the task's message and progress. */
    private static final class DetectionTask extends Task<PathoSamResults> implements DetectionProgress {

        private final PathoSam detector;
        private final ImageData<BufferedImage> imageData;
        private final List<PathObject> parents;
        private final ImagePlane plane;

        DetectionTask(PathoSam detector, ImageData<BufferedImage> imageData, List<PathObject> parents, ImagePlane plane) {
            this.detector = detector;
            this.imageData = imageData;
            this.parents = parents;
            this.plane = plane;
        }

        @Override
        protected PathoSamResults call() {
            updateMessage(UiResources.getString("progress.connecting"));
            return parents.isEmpty() ? detector.detectObjects(imageData, plane, this)
                    : detector.detectObjects(imageData, parents, this);
        }

        @Override
        public void update(int region, int regions, TileProgress tile) {
            // Task coalesces these onto the JavaFX thread itself.
            updateProgress(region + (tile == null ? 0 : tile.fraction()), Math.max(1, regions));
            updateMessage(tile == null
                    ? UiResources.format("progress.region", region + 1, regions)
                    : UiResources.format("progress.tile", region + 1, regions, tile.tilesDone(), tile.tilesTotal()));
        }
    }
}
