package qupath.ext.pathosam.ui;

import javafx.beans.property.SimpleStringProperty;
import javafx.beans.property.StringProperty;
import javafx.beans.value.ObservableValue;
import javafx.scene.control.PasswordField;
import javafx.scene.control.TextField;
import javafx.scene.input.KeyCode;
import org.controlsfx.control.PropertySheet;
import org.controlsfx.property.editor.AbstractPropertyEditor;
import org.controlsfx.property.editor.PropertyEditor;

import java.util.Optional;

/**
 * A text preference that changes when its field is committed (Enter, or the field losing focus),
 * not on every keystroke; Escape puts back the stored value.
 *
 * <p>The preference pane's own text editor writes every keystroke into the preference, and the
 * server address, token and model are followed by a server check: typing "127." would check
 * "1", "12", "127" and "127." in turn. With this item the check runs once, on the finished value.
 */
final class CommittedTextItem implements PropertySheet.Item {

    private final StringProperty property;
    private final String key;
    private final boolean secret;

    /**
     * @param property the persistent preference
     * @param key      its key in the UI bundle (name; {@code key.description} is its description)
     * @param secret   whether the field hides what it holds (a token)
     */
    CommittedTextItem(StringProperty property, String key, boolean secret) {
        this.property = property;
        this.key = key;
        this.secret = secret;
    }

    @Override
    public Class<?> getType() {
        return String.class;
    }

    @Override
    public String getCategory() {
        return UiResources.getString("prefs.category");
    }

    @Override
    public String getName() {
        return UiResources.getString(key);
    }

    @Override
    public String getDescription() {
        return UiResources.getString(key + ".description");
    }

    @Override
    public Object getValue() {
        return property.get();
    }

    @Override
    public void setValue(Object value) {
        property.set(value == null ? "" : value.toString());
    }

    @Override
    public Optional<ObservableValue<?>> getObservableValue() {
        return Optional.of(property);
    }

    @Override
    public Optional<Class<? extends PropertyEditor<?>>> getPropertyEditorClass() {
        return Optional.of(Editor.class);
    }

    /**
     * The field of a {@link CommittedTextItem}. Public with a public constructor because ControlsFX
     * creates it by reflection from {@link #getPropertyEditorClass()}.
     */
    public static final class Editor extends AbstractPropertyEditor<String, TextField> {

        private static final String COMMITTED = "pathosam.committed";

        /**
         * @param item the item to edit (a {@link CommittedTextItem})
         */
        public Editor(PropertySheet.Item item) {
            super(item, field(item));
        }

        /** The field, with the committed value it publishes (the super constructor needs it at once). */
        private static TextField field(PropertySheet.Item item) {
            TextField field = item instanceof CommittedTextItem c && c.secret ? new PasswordField() : new TextField();
            StringProperty committed = new SimpleStringProperty(item.getValue() == null ? "" : item.getValue().toString());
            field.setText(committed.get());
            field.getProperties().put(COMMITTED, committed);
            field.setOnAction(e -> committed.set(field.getText().strip()));
            field.focusedProperty().addListener((v, was, is) -> {
                if (!is)
                    committed.set(field.getText().strip());
            });
            field.setOnKeyPressed(e -> {
                if (e.getCode() == KeyCode.ESCAPE)
                    field.setText(committed.get());
            });
            return field;
        }

        private StringProperty committed() {
            return (StringProperty) getEditor().getProperties().get(COMMITTED);
        }

        @Override
        protected ObservableValue<String> getObservableValue() {
            return committed();
        }

        @Override
        public void setValue(String value) {
            String v = value == null ? "" : value;
            getEditor().setText(v);
            committed().set(v);
        }
    }
}
