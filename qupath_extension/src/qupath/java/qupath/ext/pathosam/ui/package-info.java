/**
 * The PathoSAM extension's user interface in QuPath: the extension entry point (menu, toolbar,
 * status indicator), the "Detect nuclei" command with its progress window, the point and box
 * prompt tools, the preferences and the script templates.
 *
 * <p>It runs detections through {@link qupath.ext.pathosam.PathoSam}, like a script does, and
 * takes every user-visible string from {@code qupath/ext/pathosam/ui/strings.properties},
 * including where {@link io.github.pathosam.client.ErrorAdvice} tells a user to fix things.
 */
package qupath.ext.pathosam.ui;
