/**
 * The QuPath adapter's scripting side: {@link qupath.ext.pathosam.PathoSam} (the builder scripts
 * and recorded workflows call, by this fully qualified name), the detection run, its results, the
 * tile source over QuPath's image servers, and the server token that re-runs find.
 *
 * <p>Nothing here depends on the extension's user interface; {@code qupath.ext.pathosam.ui} (menu,
 * toolbar, prompt tools, preferences, status) is built on this package, never the other way round.
 * This source folder compiles only against a real QuPath installation (Maven profile
 * {@code qupath}, activated by {@code -Dqupath.app.dir=/path/to/QuPath/lib/app}); everything that
 * can be written without QuPath lives in {@code io.github.pathosam.client} and is tested in CI.
 */
package qupath.ext.pathosam;
