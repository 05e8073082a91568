/**
 * PathoSAM: export the current image's PathoSAM nuclei as a GeoJSON FeatureCollection.
 *
 * Writes <project>/pathosam-geojson/<image name>.geojson (without a project: ~/pathosam-geojson/).
 * Works with "Run for project" to export every image of a project, and from the command line:
 *   QuPath script -p /path/to/project.qpproj PathoSamExportGeoJson.groovy
 * Only detections made by PathoSAM (those with a 'PathoSAM: score' measurement) are written; each
 * keeps its class and measurements, so the file can be dragged back onto the image in QuPath.
 */

import qupath.lib.common.GeneralTools

def imageData = getCurrentImageData()
if (imageData == null) {
    println 'Open an image first'
    return
}
def nuclei = getDetectionObjects().findAll { it.getMeasurements().containsKey('PathoSAM: score') }

def folder = getProject() != null ? buildFilePath(PROJECT_BASE_DIR, 'pathosam-geojson')
                                  : buildFilePath(System.getProperty('user.home'), 'pathosam-geojson')
mkdirs(folder)
def name = GeneralTools.stripInvalidFilenameChars(
        GeneralTools.stripExtension(imageData.getServer().getMetadata().getName()))
def path = buildFilePath(folder, name + '.geojson')
exportObjectsToGeoJson(nuclei, path, 'FEATURE_COLLECTION')
println "Wrote ${nuclei.size()} PathoSAM nuclei to ${path}"
