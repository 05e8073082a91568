package qupath.ext.pathosam.ui;

import io.github.pathosam.client.DetectionSettings;
import io.github.pathosam.client.RunPlan;
import io.github.pathosam.grpc.v1.ModelInfo;
import io.github.pathosam.grpc.v1.ServerInfo;
import javafx.application.Platform;
import javafx.beans.property.ReadOnlyObjectProperty;
import javafx.beans.property.SimpleObjectProperty;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import qupath.ext.pathosam.ServerToken;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Whether the configured PathoSAM server answers, and with which model and device. Checked in the
 * background when QuPath starts, when the server preferences change, on request, and after each run;
 * never polled, so an idle QuPath sends nothing.
 */
final class ServerStatus {

    private static final Logger logger = LoggerFactory.getLogger(ServerStatus.class);

    /**
     * A snapshot for the status indicator.
     *
     * @param address   server address as configured
     * @param model     the model that would run (or the configured name when unknown)
     * @param device    the server's device, e.g. {@code cuda:0}; empty when unknown
     * @param connected true when the server answered, false when it did not, null while unknown
     * @param detail    more information (versions, or what went wrong and what to do)
     */
    record State(String address, String model, String device, Boolean connected, String detail) {
    }

    private final SimpleObjectProperty<State> state = new SimpleObjectProperty<>(
            new State(PathoSamPreferences.serverProperty().get(), PathoSamPreferences.modelProperty().get(), "", null, ""));
    private final ExecutorService executor = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "pathosam-status");
        t.setDaemon(true);
        return t;
    });
    // Collapses a burst of requests (e.g. typing an address) into one check.
    private final AtomicBoolean pending = new AtomicBoolean();

    /** @return the latest state; changes on the JavaFX thread */
    ReadOnlyObjectProperty<State> stateProperty() {
        return state;
    }

    /** Checks the server in the background. */
    void refresh() {
        if (pending.compareAndSet(false, true))
            executor.execute(() -> {
                pending.set(false);
                State s = check();
                Platform.runLater(() -> state.set(s));
            });
    }

    private static State check() {
        String address = PathoSamPreferences.serverProperty().get();
        String modelName = PathoSamPreferences.modelProperty().get();
        try {
            DetectionSettings settings = PathoSamPreferences.applyTo(DetectionSettings.builder()).build();
            // The same plan a run makes, without an image: the model that would run, and whether it answers.
            RunPlan plan = RunPlan.fetch(settings, ServerToken.fallback(), Double.NaN);
            ServerInfo info = plan.server();
            ModelInfo model = plan.model();
            String detail = UiResources.format("status.detail", info.getServerVersion(),
                    info.getMicroSamVersion(), info.getTorchVersion(),
                    model.getHasSemanticDecoder() ? UiResources.getString("status.classifies")
                            : UiResources.getString("status.noClasses"));
            return new State(settings.server().toString(), model.getName(), info.getDevice(), true, detail);
        } catch (RuntimeException e) {
            logger.debug("PathoSAM server check failed", e);
            return new State(address, modelName, "", false, UiResources.ADVICE.describe(e));
        }
    }
}
