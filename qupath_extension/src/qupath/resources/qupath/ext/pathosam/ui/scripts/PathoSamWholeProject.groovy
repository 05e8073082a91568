/**
 * PathoSAM: detect nuclei in every image of the current project, and save each image.
 *
 * Regions: the annotations of each image (optionally only those of one class), or the whole image
 * when it has none. Images that are not RGB are skipped. Run it from the script editor with
 * Run > Run (not "Run for project": this script visits the images itself).
 *
 * Needs a running PathoSAM server (`./run serve`); a GPU server makes whole slides practical.
 */

def regionClass = null          // e.g. 'Tumor' to use only annotations of that class
def wholeImageIfNoAnnotations = true

def pathosam = qupath.ext.pathosam.PathoSam.builder()
    .server('127.0.0.1:50051')
    .model('vit_b_histopathology')
    .classify(true)
    .replace(true)              // a rerun replaces, never duplicates, PathoSAM's detections
    .build()

def project = getProject()
if (project == null) {
    println 'Open a project first'
    return
}
for (entry in project.getImageList()) {
    def imageData = entry.readImageData()
    if (!imageData.getServer().isRGB()) {
        println "Skipping ${entry.getImageName()}: not an RGB image"
        continue
    }
    def annotations = imageData.getHierarchy().getAnnotationObjects().findAll {
        regionClass == null || it.getPathClass() == getPathClass(regionClass)
    }
    def results
    if (!annotations.isEmpty())
        results = pathosam.detectObjects(imageData, annotations)
    else if (wholeImageIfNoAnnotations)
        results = pathosam.detectObjects(imageData)
    else
        continue
    entry.saveImageData(imageData)
    println "${entry.getImageName()}: ${results.summary()}"
}
