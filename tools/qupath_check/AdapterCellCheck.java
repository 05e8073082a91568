/*
 * Runs the QuPath adapter's DetectionObjects on real QuPath classes: reads a `pathosam segment --measure all
 * --cell-expansion D` GeoJSON (with QuPath's own reader), turns each cell back into the NucleusResult the
 * Java client would hold, lets DetectionObjects make the QuPath object, and checks that it is a
 * PathCellObject with a nucleus ROI and the class on the cell, and that its measurement list equals what
 * QuPath's ObjectMeasurements computes on the same ROIs and pixels (at downsample 1).
 *
 * Needs QuPath's classes (an installation's lib/app/*), the client core (qupath_extension/target/classes and
 * its dependencies) and the adapter's sources (qupath_extension/src/qupath/java, compiled with it):
 *   javac -cp "$QP:$CLIENT" -sourcepath qupath_extension/src/qupath/java -d out tools/qupath_check/AdapterCellCheck.java
 *   java -cp "out:qupath_extension/src/qupath/resources:$QP:$CLIENT" AdapterCellCheck CELLS.geojson IMAGE.png PIXEL_SIZE_UM
 * Prints one line of counts and exits 1 when any check fails.
 */
import java.awt.image.BufferedImage;
import java.io.File;
import java.nio.file.Path;
import java.util.*;
import javax.imageio.ImageIO;
import io.github.pathosam.client.NucleusResult;
import qupath.ext.pathosam.DetectionObjects;
import qupath.lib.analysis.features.ObjectMeasurements;
import qupath.lib.color.ColorDeconvolutionStains;
import qupath.lib.images.servers.*;
import qupath.lib.io.PathIO;
import qupath.lib.objects.*;
import qupath.lib.regions.ImagePlane;
public class AdapterCellCheck {
  public static void main(String[] a) throws Exception {
    var read = PathIO.readObjects(Path.of(a[0]));
    var factory = new DetectionObjects(Map.of());
    BufferedImage img = ImageIO.read(new File(a[1]));
    BufferedImage rgb = new BufferedImage(img.getWidth(), img.getHeight(), BufferedImage.TYPE_INT_RGB);
    rgb.getGraphics().drawImage(img, 0, 0, null);
    var deconv = new TransformedServerBuilder(new WrappedBufferedImageServer("r", rgb)).deconvolveStains(
        ColorDeconvolutionStains.makeDefaultColorDeconvolutionStains(ColorDeconvolutionStains.DefaultColorDeconvolutionStains.H_E), 1, 2).build();
    double px = Double.parseDouble(a[2]);
    var cal = new PixelCalibration.Builder().pixelSizeMicrons(px, px).build();
    int n = 0, cells = 0, classOnCell = 0, worstName = 0; double worst = 0;
    for (PathObject p : read) {
      var c = (PathCellObject) p;
      Map<String, Double> m = new LinkedHashMap<>();
      c.getMeasurementList().asMap().forEach((k, v) -> m.put(k, v.doubleValue()));
      var nr = new NucleusResult(n, c.getNucleusROI().getGeometry(), c.getPathClass() == null ? "" : c.getPathClass().getName(),
          c.getPathClass() == null ? 0 : 1, 0.9, m.getOrDefault("PathoSAM: score", 0.0), 0, 0, 0, m, c.getROI().getGeometry());
      PathObject made = factory.create(nr, ImagePlane.getDefaultPlane());
      if (made instanceof PathCellObject mc && mc.getNucleusROI() != null) cells++;
      if (made.getPathClass() != null && Objects.equals(made.getPathClass(), c.getPathClass())) classOnCell++;
      Map<String, Number> ours = new LinkedHashMap<>(made.getMeasurementList().asMap());
      made.getMeasurementList().clear();
      ObjectMeasurements.addShapeMeasurements(List.of(made), cal);
      ObjectMeasurements.addIntensityMeasurements(deconv, made, 1.0, EnumSet.of(ObjectMeasurements.Measurements.MEAN,
          ObjectMeasurements.Measurements.MEDIAN, ObjectMeasurements.Measurements.MIN, ObjectMeasurements.Measurements.MAX,
          ObjectMeasurements.Measurements.STD_DEV), EnumSet.of(ObjectMeasurements.Compartments.NUCLEUS,
          ObjectMeasurements.Compartments.CYTOPLASM, ObjectMeasurements.Compartments.CELL));
      var qp = made.getMeasurementList().asMap();
      for (var e : qp.entrySet()) {
        Number o = ours.get(e.getKey());
        if (o == null) { worstName++; continue; }
        worst = Math.max(worst, Math.abs(o.doubleValue() - e.getValue().doubleValue()) / Math.max(1e-12, Math.abs(e.getValue().doubleValue())));
      }
      n++;
    }
    System.out.printf("objects=%d cellObjects=%d classOnCell=%d/%d namesMissing=%d maxRelDiff=%.3g%n", n, cells, classOnCell, n, worstName, worst);
    // PolygonROI keeps float32 vertices: shapes agree to ~1e-7, pixels exactly
    System.exit(n > 0 && cells == n && classOnCell == n && worstName == 0 && worst <= 1e-6 ? 0 : 1);
  }
}
