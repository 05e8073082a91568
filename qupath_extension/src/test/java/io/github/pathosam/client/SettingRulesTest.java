package io.github.pathosam.client;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * A script's builder and the client options it turns into apply the same rules (SettingRules):
 * what one rejects the other rejects with the same message, and the limits are accepted by both.
 */
class SettingRulesTest {

    /** Options both builders spell alike: the messages must be identical. */
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "tileSize 15         | tileSize must be 16-4096 pixels, not 15",
            "tileSize 4097       | tileSize must be 16-4096 pixels, not 4097",
            "halo -1             | halo must be 0-384 pixels, not -1",
            "halo over tile      | halo must be 0-64 pixels, not 65",
            "downsample 0.009    | downsample must be at least 0.01, not 0.009",
            "downsample infinite | downsample must be at least 0.01, not Infinity",
            "token control char  | token must be printable ASCII",
    })
    void bothBuildersRejectAlike(String option, String message) {
        Consumer<ClientOptions.Builder> client = switch (option) {
            case "tileSize 15" -> b -> b.tileSize(15);
            case "tileSize 4097" -> b -> b.tileSize(4097);
            case "halo -1" -> b -> b.halo(-1);
            case "halo over tile" -> b -> b.tileSize(64).halo(65);
            case "downsample 0.009" -> b -> b.downsample(0.009);
            case "downsample infinite" -> b -> b.downsample(Double.POSITIVE_INFINITY);
            case "token control char" -> b -> b.token("a\u0007b");
            default -> throw new AssertionError(option);
        };
        Consumer<DetectionSettingsBuilder<DetectionSettings>> script = switch (option) {
            case "tileSize 15" -> b -> b.tileSize(15);
            case "tileSize 4097" -> b -> b.tileSize(4097);
            case "halo -1" -> b -> b.tileSize(384).halo(-1);
            case "halo over tile" -> b -> b.tileSize(64).halo(65);
            case "downsample 0.009" -> b -> b.downsample(0.009);
            case "downsample infinite" -> b -> b.downsample(Double.POSITIVE_INFINITY);
            case "token control char" -> b -> b.token("a\u0007b");
            default -> throw new AssertionError(option);
        };
        ClientOptions.Builder c = ClientOptions.builder();
        client.accept(c);
        DetectionSettingsBuilder<DetectionSettings> s = DetectionSettings.builder();
        script.accept(s);
        assertEquals(message, assertThrows(IllegalArgumentException.class, c::build).getMessage());
        assertEquals(message, assertThrows(IllegalArgumentException.class, s::build).getMessage());
    }

    @Test
    void simplificationHasOneRuleUnderEachBuildersName() {
        assertEquals("simplifyTolerance must be 0-1 pixel, not 1.01", assertThrows(IllegalArgumentException.class,
                () -> ClientOptions.builder().simplifyTolerance(1.01).build()).getMessage());
        assertEquals("simplify must be 0-1 pixel, not 1.01", assertThrows(IllegalArgumentException.class,
                () -> DetectionSettings.builder().simplify(1.01).build()).getMessage());
    }

    @Test
    void theLimitsThemselvesAreValidInBoth() {
        assertDoesNotThrow(() -> ClientOptions.builder().tileSize(16).halo(16).downsample(0.01).simplifyTolerance(0.0).build());
        assertDoesNotThrow(() -> ClientOptions.builder().tileSize(4096).halo(0).simplifyTolerance(1.0).build());
        assertDoesNotThrow(() -> DetectionSettings.builder().tileSize(16).halo(16).downsample(0.01).simplify(0).build());
        assertDoesNotThrow(() -> DetectionSettings.builder().tileSize(512).halo(0).simplify(1).build());  // the model window
        // Without a tile size the model's decides, and the halo is clamped to it later.
        assertDoesNotThrow(() -> DetectionSettings.builder().halo(4096).build());
    }

    @Test
    void whatTheScriptAcceptsTheClientAccepts() {
        DetectionSettings s = DetectionSettings.builder().server("[::1]:7000").token("t").tileSize(16).halo(16)
                .downsample(0.01).simplify(1).build();
        ClientOptions o = assertDoesNotThrow(() -> s.toClientOptions(s.downsample().orElseThrow(), 16, 16));
        assertEquals("[::1]:7000", o.address());
    }

    @Test
    void addressRulesAreServerAddressOnes() {
        assertEquals("the server port must be 1-65535, not 0", assertThrows(IllegalArgumentException.class,
                () -> ClientOptions.builder().port(0).build()).getMessage());
        assertEquals("the server port must be 1-65535, not 0", assertThrows(IllegalArgumentException.class,
                () -> DetectionSettings.builder().server("h:0").build()).getMessage());
    }
}
