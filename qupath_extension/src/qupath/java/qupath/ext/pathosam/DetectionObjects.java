package qupath.ext.pathosam;

import io.github.pathosam.client.ClassCounts;
import io.github.pathosam.client.NucleusMeasurements;
import io.github.pathosam.client.NucleusResult;
import io.github.pathosam.client.ReplacementRule;
import qupath.lib.common.ColorTools;
import qupath.lib.measurements.MeasurementList;
import qupath.lib.objects.PathObject;
import qupath.lib.objects.PathObjects;
import qupath.lib.objects.classes.PathClass;
import qupath.lib.objects.hierarchy.PathObjectHierarchy;
import qupath.lib.regions.ImagePlane;
import qupath.lib.roi.GeometryTools;
import qupath.lib.roi.interfaces.ROI;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns nuclei into QuPath detections, or cells when the server grew them (with the model's classes
 * and colours, PathoSAM's measurements and the server's QuPath-named shape and stain measurements),
 * for automatic runs and the prompt tools alike, and writes a run's detections into a hierarchy.
 *
 * <p>All changes of one run go in as one batch followed by a single hierarchy event: QuPath's
 * undo/redo manager records one step per event, the viewer repaints once, and a cancelled or
 * failed run changes nothing because nothing is written before every region is done.
 */
public final class DetectionObjects {

    private final Map<String, PathClass> classes = new HashMap<>();
    private final Map<String, Integer> colours;

    /**
     * @param colours class name to 0xRRGGBB from the model's GetInfo; classes QuPath already knows
     *                keep their own colour
     */
    public DetectionObjects(Map<String, Integer> colours) {
        this.colours = Map.copyOf(colours);
    }

    /**
     * @param nucleus a nucleus in level-0 coordinates
     * @param plane   the plane it was segmented on
     * @return the detection, or null when its outline is empty
     */
    public PathObject create(NucleusResult nucleus, ImagePlane plane) {
        if (nucleus.geometry().isEmpty())
            return null;
        ROI roi = GeometryTools.geometryToROI(nucleus.geometry(), plane);
        // A cell carries its outline as the ROI and the nucleus as its nucleus ROI; the class goes on the cell.
        PathObject detection = nucleus.isCell()
                ? PathObjects.createCellObject(GeometryTools.geometryToROI(nucleus.cellGeometry(), plane), roi,
                        (PathClass) null, (MeasurementList) null)
                : PathObjects.createDetectionObject(roi);
        if (nucleus.isClassified())
            detection.setPathClass(pathClass(nucleus.className()), nucleus.classProbability());
        try (var measurements = detection.getMeasurementList()) {
            measurements.putAll(NucleusMeasurements.of(nucleus));
        }
        return detection;
    }

    private PathClass pathClass(String name) {
        return classes.computeIfAbsent(name, n -> {
            Integer rgb = colours.get(n);
            return rgb == null ? PathClass.fromString(n)
                    : PathClass.fromString(n, ColorTools.packRGB((rgb >> 16) & 0xFF, (rgb >> 8) & 0xFF, rgb & 0xFF));
        });
    }

    /**
     * Removes what the rule replaces, adds the new detections below their parents, then fires one event.
     *
     * @param hierarchy the image's hierarchy
     * @param children  new detections per parent (an annotation, or the root for the whole image), in order
     * @param rule      earlier detections to remove first, or null to keep everything
     * @param source    event source
     * @return how many earlier detections were removed
     */
    static int write(PathObjectHierarchy hierarchy, Map<PathObject, List<PathObject>> children,
                     ReplacementRule rule, Object source) {
        int removed = 0;
        synchronized (hierarchy) {
            if (rule != null) {
                Map<PathObject, List<PathObject>> doomed = new IdentityHashMap<>();
                for (PathObject detection : hierarchy.getDetectionObjects()) {
                    ROI roi = detection.getROI();
                    if (roi != null && detection.getParent() != null
                            && rule.replaces(detection.getMeasurementList().getNames(), roi.getCentroidX(), roi.getCentroidY()))
                        doomed.computeIfAbsent(detection.getParent(), p -> new ArrayList<>()).add(detection);
                }
                for (Map.Entry<PathObject, List<PathObject>> e : doomed.entrySet()) {
                    e.getKey().removeChildObjects(e.getValue());
                    removed += e.getValue().size();
                }
            }
            for (Map.Entry<PathObject, List<PathObject>> e : children.entrySet())
                e.getKey().addChildObjects(e.getValue());
        }
        // Outside the lock: listeners (viewer, undo manager) may need the FX thread, which may be
        // waiting for this hierarchy.
        hierarchy.fireHierarchyChangedEvent(source);
        return removed;
    }

    /**
     * @param detections detections of one run
     * @param classes    the model's class names in class-id order
     * @return detections per class name, ordered as {@link ClassCounts#count} says
     */
    static Map<String, Integer> countPerClass(List<PathObject> detections, Collection<String> classes) {
        List<String> names = new ArrayList<>(detections.size());
        for (PathObject d : detections)
            names.add(d.getPathClass() == null ? null : d.getPathClass().toString());
        return ClassCounts.count(names, classes);
    }
}
