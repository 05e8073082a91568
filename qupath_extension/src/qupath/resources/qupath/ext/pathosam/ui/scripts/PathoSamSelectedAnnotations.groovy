/**
 * PathoSAM: detect nuclei in the selected annotations of the current image.
 *
 * Needs a running PathoSAM server (`./run serve` in the pathosam repository, or `pathosam serve`).
 * Nuclei become detections below their annotation, clipped to it, with a class (Neoplastic,
 * Inflammatory, Connective, Dead, Epithelial) and the measurements 'PathoSAM: score' and
 * 'PathoSAM: class probability'. With nothing selected, every annotation is used.
 *
 * A server token is read from Edit > Preferences > PathoSAM or the PATHOSAM_TOKEN environment
 * variable (or pass .token('...') below; it is never written into the image's history).
 */

def pathosam = qupath.ext.pathosam.PathoSam.builder()
    .server('127.0.0.1:50051')       // host:port of the PathoSAM server
    .model('vit_b_histopathology')   // or '' for the server's default model
    .classify(true)                  // nucleus classes (needs the semantic decoder)
    .replace(true)                   // remove earlier PathoSAM detections in these annotations first
//  .pixelSize(0.25)                 // working resolution in µm (default: the model's own)
//  .tileSize(384).halo(64)          // tiles in working pixels (default: the model's own)
//  .encoding('png')                 // smaller messages for a slow link to a remote server
    .build()

def imageData = getCurrentImageData()
def annotations = getSelectedObjects().findAll { it.isAnnotation() }
if (annotations.isEmpty())
    annotations = getAnnotationObjects()
if (annotations.isEmpty()) {
    println 'No annotations: select some, or call pathosam.detectObjects(imageData) for the whole image'
    return
}
def results = pathosam.detectObjects(imageData, annotations)
println results.summary()
println results.nucleiPerClass()
