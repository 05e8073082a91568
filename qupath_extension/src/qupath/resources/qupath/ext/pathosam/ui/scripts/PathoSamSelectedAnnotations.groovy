/**
 * PathoSAM: detect nuclei in the selected annotations of the current image.
 *
 * Needs a running PathoSAM server (`./run serve` in the pathosam repository, or `pathosam serve`).
 * Nuclei become detections below their annotation, clipped to it, with a class (Neoplastic,
 * Inflammatory, Connective, Dead, Epithelial) and the measurements 'PathoSAM: score' and
 * 'PathoSAM: class probability'. With nothing selected, every annotation is used.
 *
 * The settings start from Edit > Preferences > PathoSAM (server, model, tiles, pixel size, classes),
 * as the toolbar button uses them; uncomment a line below to override one for this script.
 * A server token is read from the preferences or the PATHOSAM_TOKEN environment variable (or pass
 * .token('...') below; it is never written into the image's history).
 *
 * From the command line, for every image of a project (add -s to save the detections):
 *   QuPath script -p /path/to/project.qpproj -s PathoSamSelectedAnnotations.groovy
 */

def pathosam = qupath.ext.pathosam.PathoSam.builderFromPreferences()
//  .server('127.0.0.1:50051')       // host:port of the PathoSAM server
//  .model('vit_b_histopathology')   // or '' for the server's default model
//  .classify(true)                  // nucleus classes (needs the semantic decoder)
//  .replace(true)                   // remove earlier PathoSAM detections in these annotations first
//  .pixelSize(0.25)                 // working resolution in µm (default: the model's own)
//  .skipBackground(true)           // skip tiles of glass inside the annotations too
//  .tileSize(384).halo(64)          // tiles in working pixels (default: the model's own)
//  .encoding('png')                 // smaller messages for a slow link to a remote server
    .build()

def imageData = getCurrentImageData()
if (imageData == null) {
    println 'Open an image first'
    return
}
def annotations = getSelectedObjects().findAll { it.isAnnotation() }
if (annotations.isEmpty())
    annotations = getAnnotationObjects()
if (annotations.isEmpty()) {
    println "${getProjectEntry()?.getImageName() ?: 'This image'}: no annotations; select some, " +
            'or call pathosam.detectObjects(imageData) for the whole image'
    return
}
def results = pathosam.detectObjects(imageData, annotations)
println results.summary()
println results.nucleiPerClass()
