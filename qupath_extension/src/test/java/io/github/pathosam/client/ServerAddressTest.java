package io.github.pathosam.client;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ServerAddressTest {

    @ParameterizedTest
    @CsvSource({
            "localhost:50051, localhost, 50051",
            "' gpu1:6000 ', gpu1, 6000",
            "gpu1, gpu1, 50051",
            "10.0.0.7:1, 10.0.0.7, 1",
            "'[::1]:7000', ::1, 7000",
            "'[::1]', ::1, 50051",
            "'::1', ::1, 50051",
            "'fe80::1:2', fe80::1:2, 50051",
            "255.255.255.255:2, 255.255.255.255, 2",
            "gpu-1.lab:9, gpu-1.lab, 9",
    })
    void parses(String text, String host, int port) {
        assertEquals(new ServerAddress(host, port), ServerAddress.parse(text));
    }

    @Test
    void printsWhatItParses() {
        for (String s : new String[]{"localhost:50051", "[::1]:7000", "gpu1:1"})
            assertEquals(s, ServerAddress.parse(s).toString());
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "  ", "host:", "host:abc", "host:0", "host:70000", "http://host:50051",
            "[::1", "[::1]x", "a b:50051", "127.", "127.0.0", "127.0.0.1.", "1.2.3.256", "300:50051", "..:1"})
    void rejectsWithAHint(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ServerAddress.parse(text));
        assertTrue(e.getMessage().contains("server") || e.getMessage().contains("port"), e.getMessage());
    }
}
