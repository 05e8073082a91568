/**
 * PathoSAM: detect nuclei in every image of the current project, and save each image.
 *
 * Regions: the annotations of each image (optionally only those of one class), or the whole image
 * when it has none. Images that are not RGB are skipped. It runs three ways:
 *  - Script editor, Run: this script visits every image of the project and saves each one (the
 *    image open in the viewer is used as it is, unsaved changes included).
 *  - Script editor, Run for project: QuPath visits the images you choose and saves them; this
 *    script detects in the one it is given.
 *  - Command line, once per image like Run for project; -s saves the detections:
 *      QuPath script -p /path/to/project.qpproj -s PathoSamWholeProject.groovy
 *    (add -i 'image name' for one image; the server must be running, see `pathosam serve`).
 *
 * The settings start from Edit > Preferences > PathoSAM, as the toolbar button uses them (under
 * `QuPath script` too: the same user's preferences); uncomment a line below to override one.
 * A GPU server makes whole slides practical.
 */

def regionClass = null          // e.g. 'Tumor' to use only annotations of that class
def wholeImageIfNoAnnotations = true

def pathosam = qupath.ext.pathosam.PathoSam.builderFromPreferences()
//  .server('127.0.0.1:50051')       // host:port of the PathoSAM server
//  .model('vit_b_histopathology')   // or '' for the server's default model
//  .classify(true)                  // nucleus classes (needs the semantic decoder)
//  .replace(true)                   // a rerun replaces, never duplicates, PathoSAM's detections
//  .pixelSize(0.25)                 // working resolution in µm (default: the model's own)
//  .skipBackground(false)          // encode glass too (default: skipped for whole images only)
    .build()

// Detects in one image; returns what to print and whether anything changed.
def detect = { imageData, String name ->
    if (!imageData.getServer().isRGB())
        return ["Skipping ${name}: not an RGB image", false]
    def annotations = imageData.getHierarchy().getAnnotationObjects().findAll {
        regionClass == null || it.getPathClass() == getPathClass(regionClass)
    }
    def results
    if (!annotations.isEmpty())
        results = pathosam.detectObjects(imageData, annotations)
    else if (wholeImageIfNoAnnotations)
        results = pathosam.detectObjects(imageData)
    else
        return ["Skipping ${name}: no annotations" + (regionClass == null ? '' : " of class ${regionClass}"), false]
    return ["${name}: ${results.summary()} ${results.nucleiPerClass()}", true]
}

// Who visits the images? QuPath does under `QuPath script` (no window) and under Run for project
// (a fresh copy of each image, several images: a batch); a plain Run gets the viewer's image itself.
def attribute = { String key, fallback -> binding.hasVariable(key) ? binding.getVariable(key) : fallback }
def gui = qupath.lib.gui.QuPathGUI.getInstance()
def current = getCurrentImageData()
boolean qupathVisits = gui == null || (attribute('qupath.script.batchSize', 1) as int) > 1 ||
        (current != null && !current.is(gui.getImageData()))

if (qupathVisits) {
    if (current == null) {
        println 'No image to detect in'
        return
    }
    def (line, changed) = detect(current, getProjectEntry()?.getImageName() ?: current.getServer().getMetadata().getName())
    println line
    if (changed && !(attribute('qupath.script.batchSave', false) as boolean))
        println '  (not saved: add -s to `QuPath script`, or use Run for project with saving)'
    return
}

def project = getProject()
if (project == null) {
    println 'Open a project first (for this image alone, use the template "Detect nuclei in the selected annotations")'
    return
}
def openEntry = current == null ? null : project.getEntry(current)
for (entry in project.getImageList()) {
    def imageData = entry == openEntry ? current : entry.readImageData()
    def (line, changed) = detect(imageData, entry.getImageName())
    if (changed)
        entry.saveImageData(imageData)
    println line
}
