package qupath.ext.pathosam.ui;

import javafx.concurrent.Task;
import javafx.concurrent.Worker;
import javafx.geometry.Insets;
import javafx.scene.Scene;
import javafx.scene.control.Button;
import javafx.scene.control.Label;
import javafx.scene.control.ProgressBar;
import javafx.scene.layout.VBox;
import javafx.stage.Modality;
import javafx.stage.Stage;
import javafx.stage.Window;

/**
 * A small, non-modal window with a task's progress and a Cancel button. Cancelling interrupts the
 * worker thread, which cancels the gRPC stream: the server stops at once and nothing is written.
 */
final class ProgressWindow {

    private ProgressWindow() {
    }

    /**
     * Shows the window until the task ends. Call on the JavaFX thread before starting the task.
     *
     * @param owner the QuPath window
     * @param title window title
     * @param task  the task to follow
     */
    static void show(Window owner, String title, Task<?> task) {
        Label message = new Label(UiResources.getString("progress.connecting"));
        message.textProperty().bind(task.messageProperty());
        message.setMinWidth(360);
        // Indeterminate (-1) until the first tile is done: the bar moves at once, long before any share is known.
        ProgressBar bar = new ProgressBar(-1);
        bar.progressProperty().bind(task.progressProperty());
        bar.setPrefWidth(360);
        Button cancel = new Button(UiResources.getString("progress.cancel"));
        cancel.setOnAction(e -> task.cancel(true));
        VBox box = new VBox(8, message, bar, cancel);
        box.setPadding(new Insets(12));

        Stage stage = new Stage();
        stage.initOwner(owner);
        stage.initModality(Modality.NONE);
        stage.setTitle(title);
        stage.setScene(new Scene(box));
        stage.setResizable(false);
        // Closing the window is cancelling: a run nobody can see any more should not go on.
        stage.setOnCloseRequest(e -> task.cancel(true));
        task.stateProperty().addListener((v, o, n) -> {
            if (n == Worker.State.SUCCEEDED || n == Worker.State.FAILED || n == Worker.State.CANCELLED)
                stage.close();
        });
        stage.show();
    }
}
