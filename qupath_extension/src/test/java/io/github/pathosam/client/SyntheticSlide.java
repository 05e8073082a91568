package io.github.pathosam.client;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A synthetic H&E-like image with its ground truth, made by the project's Python generator
 * ({@code pathosam_server._testing.synthetic.make_region}, the same one the tiny model was trained on) and
 * written as a PNG that Java reads back with ImageIO.
 *
 * @param png    the image file
 * @param image  the image
 * @param nuclei ground-truth nuclei
 */
record SyntheticSlide(Path png, BufferedImage image, List<Truth> nuclei) {

    /**
     * A ground-truth nucleus.
     *
     * @param cx    centroid x (level-0, pixel centres at +0.5)
     * @param cy    centroid y
     * @param area  area in pixels
     * @param classId PanNuke class id
     */
    record Truth(double cx, double cy, double area, int classId) {
    }

    private static final String SCRIPT = String.join("\n",
            "import json, sys",
            "import numpy as np",
            "from PIL import Image",
            "from scipy import ndimage",
            "from pathosam_server._testing.synthetic import make_region",
            "seed, h, w, png, truth = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]",
            "s = make_region(seed, (h, w))",
            "Image.fromarray(s.image).save(png)",
            "ids = sorted(s.classes)",
            "ones = np.ones_like(s.instances)",
            "coms = ndimage.center_of_mass(ones, s.instances, ids)",
            "areas = ndimage.sum(ones, s.instances, ids)",
            "json.dump([dict(cx=float(c[1]) + 0.5, cy=float(c[0]) + 0.5, area=float(a), cls=int(s.classes[i]))",
            "           for i, c, a in zip(ids, coms, areas)], open(truth, 'w'))");

    /**
     * @param dir    folder for the files
     * @param seed   generator seed
     * @param width  image width
     * @param height image height
     * @return the slide
     */
    static SyntheticSlide create(Path dir, int seed, int width, int height) throws IOException, InterruptedException {
        Path png = dir.resolve("synthetic_" + seed + "_" + width + "x" + height + ".png");
        Path truth = dir.resolve("synthetic_" + seed + "_" + width + "x" + height + ".json");
        PythonServer.runPython(Duration.ofSeconds(180), "-c", SCRIPT, Integer.toString(seed),
                Integer.toString(height), Integer.toString(width), png.toString(), truth.toString());
        BufferedImage image = ImageIO.read(png.toFile());
        List<Truth> nuclei = new ArrayList<>();
        JsonArray array = JsonParser.parseString(Files.readString(truth)).getAsJsonArray();
        for (JsonElement e : array) {
            JsonObject o = e.getAsJsonObject();
            nuclei.add(new Truth(o.get("cx").getAsDouble(), o.get("cy").getAsDouble(), o.get("area").getAsDouble(),
                    o.get("cls").getAsInt()));
        }
        return new SyntheticSlide(png, image, List.copyOf(nuclei));
    }

    TileSource source() {
        return new BufferedImageTileSource(image);
    }
}
