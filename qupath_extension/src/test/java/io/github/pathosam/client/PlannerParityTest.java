package io.github.pathosam.client;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonParser;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.DisabledIfSystemProperty;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Java's TilePlanner and the Python planner ({@code pathosam_server.geometry.tiling.plan_tiles}) must cut
 * every region identically, including the cases where round-half-up and Python's half-to-even
 * rounding would differ.
 */
@DisabledIfSystemProperty(named = "pathosam.live", matches = "false")
class PlannerParityTest {

    /** x, y, w, h, downsample, tile size, halo, image width, image height. */
    private static final double[][] CASES = {
            {0, 0, 1000, 1000, 1.0, 384, 64, 1000, 1000},
            {17, 5, 777, 1301, 1.0, 384, 64, 900, 1400},
            {123, 456, 3001, 2999, 1.5, 384, 64, 4000, 3500},
            {1, 1, 5, 7, 2.0, 384, 64, 10, 10},                  // 2.5 and 3.5 tile pixels
            {11, 13, 2001, 997, 769.0 / 768, 384, 64, 2100, 1100}, // i*T*d ends in .5
            {0, 0, 5000, 301, 3.3333, 256, 32, 5000, 400},
            {50, 60, 999, 998, 0.75, 100, 10, 1100, 1100},
            {100, 60, 1100, 700, 2.0, 384, 64, 1280, 1024},
            {0, 0, 2001, 1001, 1.0078125, 300, 65, 2001, 1001},  // H*d = 65.5078125
    };

    private static final String SCRIPT = String.join("\n",
            "import json, sys",
            "from pathosam_server.geometry.tiling import Rect, plan_tiles",
            "out = []",
            "for c in json.loads(sys.argv[1]):",
            "    x, y, w, h, d, t, halo, iw, ih = c",
            "    tiles = plan_tiles(Rect(int(x), int(y), int(w), int(h)), d, int(t), int(halo), int(iw), int(ih))",
            "    out.append([[p.core.x, p.core.y, p.core.width, p.core.height, p.rect.x, p.rect.y, p.rect.width,",
            "                 p.rect.height, p.width, p.height] for p in tiles])",
            "print(json.dumps(out))");

    @Test
    void javaAndPythonPlanTheSameTiles() throws Exception {
        JsonArray cases = new JsonArray();
        for (double[] c : CASES) {
            JsonArray a = new JsonArray();
            for (double v : c)
                a.add(v);
            cases.add(a);
        }
        String out = PythonServer.runPython(Duration.ofSeconds(120), "-c", SCRIPT, cases.toString()).strip();
        JsonArray python = JsonParser.parseString(out.substring(out.lastIndexOf('\n') + 1)).getAsJsonArray();
        for (int i = 0; i < CASES.length; i++) {
            double[] c = CASES[i];
            List<PlannedTile> tiles = TilePlanner.plan(new PixelRect((int) c[0], (int) c[1], (int) c[2], (int) c[3]),
                    c[4], (int) c[5], (int) c[6], (int) c[7], (int) c[8]);
            List<List<Integer>> java = new ArrayList<>();
            for (PlannedTile t : tiles)
                java.add(List.of(t.core().x(), t.core().y(), t.core().width(), t.core().height(), t.region().x(),
                        t.region().y(), t.region().width(), t.region().height(), t.width(), t.height()));
            List<List<Integer>> py = new ArrayList<>();
            for (JsonElement tile : python.get(i).getAsJsonArray()) {
                List<Integer> row = new ArrayList<>();
                for (JsonElement v : tile.getAsJsonArray())
                    row.add(v.getAsInt());
                py.add(row);
            }
            assertEquals(py, java, "case " + i + ": " + java.size() + " Java tiles vs " + py.size() + " Python tiles");
        }
    }
}
