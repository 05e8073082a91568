package io.github.pathosam.client;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PromptDigestsTest {

    @Test
    void digestMatchesTheProtoDefinition() {
        byte[] rgb = new byte[12];
        for (int i = 0; i < rgb.length; i++)
            rgb[i] = (byte) i;
        // Python: hashlib.sha256(b"2x2:" + bytes(range(12))).hexdigest()
        assertEquals("39c87a375c33eb76b8f08abc7ad60d62577e8a74a559b6c36914724df3f59862",
                PromptDigests.digest(rgb, 2, 2));
    }

    @Test
    void rememberedDigestsAreBounded() {
        PromptDigests digests = new PromptDigests(2);
        digests.add("a");
        digests.add("b");
        digests.add("c");
        assertFalse(digests.contains("a"));
        assertTrue(digests.contains("b") && digests.contains("c"));
        digests.remove("b");
        assertFalse(digests.contains("b"));
    }
}
