/*
 * Measures PathoSAM's objects with QuPath's own ObjectMeasurements, so that the server's measurements can be
 * compared with QuPath's on the same ROIs and pixels (tools/qupath_measurements_check.py drives it).
 *
 * It needs the classes of a QuPath installation on the class path (QuPath's lib/app/*.jar) and nothing else;
 * it is not part of the extension and is never built by the project's own build.
 *
 * Usage: java -cp "QuPath/lib/app/*:classes" QuPathMeasure OBJECTS.geojson PIXEL_SIZE_UM IMAGE.png|- OUT.json [DOWNSAMPLE]
 *   DOWNSAMPLE (default 1): the resolution intensities are measured at, as StarDist measures at its detection one.
 *   PIXEL_SIZE_UM <= 0 means an uncalibrated image (QuPath names the measurements in px).
 * OUT.json: one entry per object, in file order: {"ours": {...}, "qupath": {...}}, where "ours" are the
 * measurements QuPath imported from the GeoJSON and "qupath" are those ObjectMeasurements computed.
 */

import java.awt.image.BufferedImage;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import javax.imageio.ImageIO;

import com.google.gson.GsonBuilder;

import qupath.lib.analysis.features.ObjectMeasurements;
import qupath.lib.color.ColorDeconvolutionStains;
import qupath.lib.images.servers.ImageServer;
import qupath.lib.images.servers.ImageServerMetadata;
import qupath.lib.images.servers.PixelCalibration;
import qupath.lib.images.servers.TransformedServerBuilder;
import qupath.lib.images.servers.WrappedBufferedImageServer;
import qupath.lib.io.PathIO;
import qupath.lib.objects.PathObject;

public class QuPathMeasure {

	public static void main(String[] args) throws Exception {
		if (args.length != 4 && args.length != 5) {
			System.err.println("usage: QuPathMeasure OBJECTS.geojson PIXEL_SIZE_UM IMAGE.png|- OUT.json [DOWNSAMPLE]");
			System.exit(2);
		}
		List<PathObject> objects = PathIO.readObjects(Path.of(args[0]));
		double pixelSize = Double.parseDouble(args[1]);
		double downsample = args.length == 5 ? Double.parseDouble(args[4]) : 1.0;
		PixelCalibration cal = pixelSize > 0
				? new PixelCalibration.Builder().pixelSizeMicrons(pixelSize, pixelSize).build()
				: PixelCalibration.getDefaultInstance();

		List<Map<String, Number>> ours = new ArrayList<>();
		for (PathObject p : objects) {
			ours.add(new LinkedHashMap<>(p.getMeasurementList().asMap()));
			p.getMeasurementList().clear();
		}

		ObjectMeasurements.addShapeMeasurements(objects, cal);

		if (!"-".equals(args[2])) {
			BufferedImage img = ImageIO.read(new File(args[2]));
			BufferedImage rgb = new BufferedImage(img.getWidth(), img.getHeight(), BufferedImage.TYPE_INT_RGB);
			rgb.getGraphics().drawImage(img, 0, 0, null);
			WrappedBufferedImageServer base = new WrappedBufferedImageServer("region", rgb);
			if (pixelSize > 0)
				base.setMetadata(new ImageServerMetadata.Builder(base.getMetadata())
						.pixelSizeMicrons(pixelSize, pixelSize).build());
			// QuPath's H&E default stains, as an H&E image that nobody re-estimated has them
			ColorDeconvolutionStains stains = ColorDeconvolutionStains.makeDefaultColorDeconvolutionStains(
					ColorDeconvolutionStains.DefaultColorDeconvolutionStains.H_E);
			ImageServer<BufferedImage> deconvolved = new TransformedServerBuilder(base)
					.deconvolveStains(stains, 1, 2).build();
			var measurements = EnumSet.of(ObjectMeasurements.Measurements.MEAN, ObjectMeasurements.Measurements.MEDIAN,
					ObjectMeasurements.Measurements.MIN, ObjectMeasurements.Measurements.MAX,
					ObjectMeasurements.Measurements.STD_DEV);
			var compartments = EnumSet.of(ObjectMeasurements.Compartments.NUCLEUS,
					ObjectMeasurements.Compartments.CYTOPLASM, ObjectMeasurements.Compartments.CELL);
			for (PathObject p : objects)
				ObjectMeasurements.addIntensityMeasurements(deconvolved, p, downsample, measurements, compartments);
		}

		List<Map<String, Object>> out = new ArrayList<>();
		for (int i = 0; i < objects.size(); i++) {
			Map<String, Object> entry = new LinkedHashMap<>();
			entry.put("type", objects.get(i).getClass().getSimpleName());
			entry.put("ours", ours.get(i));
			entry.put("qupath", objects.get(i).getMeasurementList().asMap());
			out.add(entry);
		}
		Files.writeString(Path.of(args[3]),
				new GsonBuilder().serializeSpecialFloatingPointValues().create().toJson(out), StandardCharsets.UTF_8);
	}
}
