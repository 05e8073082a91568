package io.github.pathosam.client;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PromptWindowsTest {

    private static PixelRect at(double x, double y) {
        return PromptWindows.bounds(List.of(new PromptPoint(x, y, true)), null);
    }

    @Test
    void newWindowIsCentredAndOfWorkingSize() {
        PromptWindows windows = new PromptWindows(512, 2.0, 10_000, 8_000, 2048);
        PixelRect w = windows.window(null, at(5000.5, 4000.2));
        assertEquals(new PixelRect(5000 - 512, 4000 - 512, 1024, 1024), w);
        assertEquals(512, TilePlanner.tilePixels(w.width(), 2.0), "512 working pixels at downsample 2");
    }

    @Test
    void nearbyPromptsReuseTheWindowSoOnlyTheDigestIsSent() {
        PromptWindows windows = new PromptWindows(512, 1.0, 4000, 4000, 0);
        PixelRect first = windows.window(null, at(2000, 2000));
        assertSame(first, windows.window(first, at(2100, 1900)));
        assertSame(first, windows.window(first, PromptWindows.bounds(
                List.of(new PromptPoint(1900, 1900, true), new PromptPoint(2150, 2180, false)), null)));
        // 64 px of context (an eighth) must remain: a click 40 px from the edge moves the window.
        PixelRect moved = windows.window(first, at(first.maxX() - 40, 2000));
        assertNotEquals(first, moved);
        assertTrue(moved.contains(first.maxX() - 40, 2000));
    }

    @Test
    void windowsStayInsideTheImageAndNeedNoMarginAtItsBorder() {
        PromptWindows windows = new PromptWindows(512, 1.0, 3000, 700, 0);
        PixelRect corner = windows.window(null, at(3, 2));
        assertEquals(new PixelRect(0, 0, 512, 512), corner);
        assertSame(corner, windows.window(corner, at(0, 0)), "the border side needs no margin");
        PixelRect bottom = windows.window(null, at(2999, 699));
        assertEquals(new PixelRect(3000 - 512, 700 - 512, 512, 512), bottom);
        PromptWindows small = new PromptWindows(512, 1.0, 300, 200, 0);
        assertEquals(new PixelRect(0, 0, 300, 200), small.window(null, at(150, 100)), "a small image is one window");
    }

    @Test
    void largeBoxesGetALargerWindowWithinTheServersLimit() {
        PromptWindows windows = new PromptWindows(512, 1.0, 10_000, 10_000, 1024);
        PixelRect box = new PixelRect(1000, 1000, 700, 300);
        PixelRect w = windows.window(null, PromptWindows.bounds(List.of(), box));
        assertEquals(700 + 2 * 64, w.width());
        assertEquals(512, w.height());
        assertTrue(w.intersection(box).equals(box));
        assertThrows(IllegalArgumentException.class,
                () -> windows.window(null, PromptWindows.bounds(List.of(), new PixelRect(0, 0, 2000, 100))));
    }

    @Test
    void boundsAndBadPrompts() {
        assertEquals(new PixelRect(10, 20, 1, 1), at(10.9, 20.1));
        assertEquals(PixelRect.fromCorners(5, 5, 31, 41), PromptWindows.bounds(
                List.of(new PromptPoint(30.5, 5.5, true)), new PixelRect(5, 10, 20, 31)));
        assertThrows(IllegalArgumentException.class, () -> PromptWindows.bounds(List.of(), null));
        PromptWindows windows = new PromptWindows(512, 1.0, 100, 100, 0);
        assertThrows(IllegalArgumentException.class, () -> windows.window(null, at(150, 50)));
        assertThrows(IllegalArgumentException.class, () -> new PromptWindows(32, 1, 100, 100, 0));
    }
}
