/**
 * The QuPath adapter of the PathoSAM extension: extension entry point, toolbar, prompt tools,
 * preferences, conversion of results to QuPath detections and the scripting builder.
 *
 * <p>This source folder compiles only against a real QuPath installation (Maven profile
 * {@code qupath}, activated by {@code -Dqupath.app.dir=/path/to/QuPath/lib/app}); everything that
 * can be written without QuPath lives in {@code io.github.pathosam.client} and is tested in CI.
 */
package qupath.ext.pathosam;
