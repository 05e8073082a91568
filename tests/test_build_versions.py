"""The two Java builds agree: qupath_extension/pom.xml (CI, Maven) and build.gradle (users, Gradle).

Gradle cannot run on the CI machines (no distribution can be downloaded), so this test is what keeps
the build users run honest: same library versions, same bundled and provided artifacts, same
relocations and exclusions in the shaded jar, same project coordinates, same QuPath versions (the
`-Dqupath.version` switch: 0.6.0 by default, or 0.7.0, with the libraries each of them provides), and
source folders that exist.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
POM = ROOT / "qupath_extension" / "pom.xml"
GRADLE = ROOT / "build.gradle"
SETTINGS = ROOT / "settings.gradle"
EXTENSION = ROOT / "qupath_extension/src/qupath/java/qupath/ext/pathosam/ui/PathoSamExtension.java"
NS = {"m": "http://maven.apache.org/POM/4.0.0"}

# pom.xml property -> build.gradle variable
VERSION_PAIRS = {
    "grpc.version": "grpcVersion",
    "protobuf.version": "protobufVersion",
    "junit.version": "junitVersion",
}
# Provided by QuPath (one version per QuPath release): pom.xml property -> key of build.gradle's providedVersions.
PROVIDED_PAIRS = {"jts.version": "jts", "gson.version": "gson", "slf4j.version": "slf4j"}
# The QuPath releases the extension builds for; the first is the default.
QUPATH_RELEASES = ["0.6.0", "0.7.0"]


@pytest.fixture(scope="module")
def pom() -> ET.Element:
    return ET.parse(POM).getroot()


@pytest.fixture(scope="module")
def gradle() -> str:
    # Comments must not satisfy (or spoil) a check.
    return re.sub(r"(?m)^\s*//.*$|(?<=[\s,(])//.*$", "", GRADLE.read_text(encoding="utf-8"))


def pom_properties(pom: ET.Element) -> dict[str, str]:
    return {el.tag.split("}")[1]: (el.text or "").strip() for el in pom.find("m:properties", NS)}


def resolve(text: str, props: dict[str, str]) -> str:
    return re.sub(r"\$\{([^}]+)\}", lambda m: props.get(m.group(1), m.group(0)), text)


def gradle_defs(gradle: str) -> dict[str, str]:
    return dict(re.findall(r'\bdef\s+(\w+)\s*=\s*"([^"]*)"', gradle))


def gradle_block(gradle: str, name: str) -> str:
    """The text of a top-level `name { ... }` block (braces balanced)."""
    start = re.search(rf"(?m)^{re.escape(name)}\s*\{{", gradle)
    assert start, f"build.gradle has no {name} block"
    depth, i = 0, start.end() - 1
    for j in range(i, len(gradle)):
        depth += {"{": 1, "}": -1}.get(gradle[j], 0)
        if depth == 0:
            return gradle[i + 1:j]
    raise AssertionError(f"unbalanced {name} block")


def pom_dependencies(pom: ET.Element) -> dict[str, str]:
    """artifactId -> scope ('compile' when absent) of the main <dependencies>."""
    deps = {}
    for d in pom.findall("m:dependencies/m:dependency", NS):
        scope = d.find("m:scope", NS)
        deps[d.find("m:artifactId", NS).text] = scope.text if scope is not None else "compile"
    return deps


def gradle_dependencies(gradle: str) -> dict[str, str]:
    """artifactId -> configuration, for string-coordinate dependencies."""
    block = gradle_block(gradle, "dependencies")
    found = {}
    for conf, coords in re.findall(r'(\w+)\(\s*"([^"$]+?)(?::\$\{\w+\})?"\s*\)', block):
        parts = coords.split(":")
        if len(parts) >= 2:
            found[parts[1]] = conf
    return found


def test_library_versions_are_equal(pom, gradle):
    props, defs = pom_properties(pom), gradle_defs(gradle)
    for prop, var in VERSION_PAIRS.items():
        assert var in defs, f"build.gradle does not define {var}"
        assert defs[var] == props[prop], f"{var}={defs[var]} in build.gradle but {prop}={props[prop]} in pom.xml"


def test_versions_are_used_where_they_matter(gradle):
    # A declared-but-unused variable would let the two builds drift silently.
    assert 'platform("io.grpc:grpc-bom:${grpcVersion}")' in gradle
    assert 'platform("com.google.protobuf:protobuf-bom:${protobufVersion}")' in gradle
    assert '"com.google.protobuf:protoc:${protobufVersion}"' in gradle
    assert '"io.grpc:protoc-gen-grpc-java:${grpcVersion}"' in gradle
    for artifact, var in [("jts-core", "jtsVersion"), ("gson", "gsonVersion"), ("slf4j-api", "slf4jVersion"),
                          ("junit-jupiter", "junitVersion"), ("slf4j-simple", "slf4jVersion")]:
        assert re.search(rf':{artifact}:\$\{{{var}\}}"', gradle), f"{artifact} does not use {var}"


def test_pom_codegen_uses_the_same_properties(pom):
    text = POM.read_text(encoding="utf-8")
    assert "com.google.protobuf:protoc:${protobuf.version}" in text
    assert "io.grpc:protoc-gen-grpc-java:${grpc.version}" in text
    assert "<version>${grpc.version}</version>" in text and "<version>${protobuf.version}</version>" in text


def test_same_artifacts_bundled_and_provided(pom, gradle):
    maven, grad = pom_dependencies(pom), gradle_dependencies(gradle)
    expected_conf = {"compile": "implementation", "provided": "shadow"}
    for artifact, scope in maven.items():
        assert artifact in grad, f"{artifact} ({scope} in pom.xml) is missing from build.gradle"
        if scope == "test":
            assert grad[artifact] in {"testImplementation", "testRuntimeOnly"}, artifact
        else:
            assert grad[artifact] == expected_conf[scope], f"{artifact}: {scope} in pom.xml, {grad[artifact]} in build.gradle"
    extra = {a for a, c in grad.items() if c in {"implementation", "api"}} - set(maven)
    assert not extra, f"bundled by build.gradle only: {extra}"
    # Provided libraries must stay out of the shaded jar in Gradle too.
    shadow_block = gradle_block(gradle, "shadowJar")
    for artifact, scope in maven.items():
        if scope == "provided":
            assert re.search(rf'exclude\(dependency\("[\w.]+:{artifact}"\)\)', shadow_block), artifact


def test_same_relocations_and_exclusions(pom, gradle):
    props = pom_properties(pom)
    shade = pom.find(".//m:plugin[m:artifactId='maven-shade-plugin']", NS)
    relocations = {
        resolve(r.find("m:pattern", NS).text, props): resolve(r.find("m:shadedPattern", NS).text, props)
        for r in shade.findall(".//m:relocation", NS)
    }
    shadow_block = gradle_block(gradle, "shadowJar")
    listed = re.search(r"\[(.*?)\]\.each", shadow_block, re.S)
    assert listed, "build.gradle's shadowJar should relocate a list of packages"
    gradle_packages = re.findall(r'"([\w.]+)"', listed.group(1))
    prefix = gradle_defs(gradle)["shadePrefix"]
    assert prefix == props["shade.prefix"]
    assert sorted(gradle_packages) == sorted(relocations)
    assert all(shaded == f"{prefix}.{pkg}" for pkg, shaded in relocations.items())
    assert 'relocate(pkg, "${shadePrefix}.${pkg}")' in shadow_block
    assert "mergeServiceFiles()" in shadow_block

    excluded_artifacts = {e.text.split(":")[1] for e in shade.findall(".//m:artifactSet/m:excludes/m:exclude", NS)}
    gradle_excluded = set(re.findall(r'exclude\(dependency\("[\w.]+:([\w.-]+)"\)\)', shadow_block))
    assert excluded_artifacts <= gradle_excluded, excluded_artifacts - gradle_excluded
    # Shadow writes the jar's own manifest and never copies the dependencies' ones: no pattern needed.
    implicit_in_shadow = {"META-INF/MANIFEST.MF"}
    for pattern in [e.text for e in shade.findall(".//m:filter/m:excludes/m:exclude", NS)]:
        if pattern in implicit_in_shadow:
            continue
        assert f'"{pattern}"' in shadow_block, f"shadowJar does not exclude {pattern}"


def test_same_coordinates_and_extension_version(pom, gradle):
    block = gradle_block(gradle, "qupathExtension")
    fields = dict(re.findall(r'(\w+)\s*=\s*"([^"]*)"', block))
    assert fields["name"] == pom.find("m:artifactId", NS).text
    assert fields["group"] == pom.find("m:groupId", NS).text
    assert fields["version"] == pom.find("m:version", NS).text
    assert fields["description"] == pom.find("m:description", NS).text
    assert fields["automaticModule"]
    java = EXTENSION.read_text(encoding="utf-8")
    assert f'EXTENSION_VERSION = "{fields["version"]}"' in java


QUPATH_SWITCH = r'def\s+qupathVersion\s*=\s*System\.getProperty\("qupath\.version"\)\s*\?:\s*"([^"]+)"'


def gradle_provided_versions(gradle: str) -> dict[str, dict[str, str]]:
    """build.gradle's providedVersions map: QuPath release -> {jts, gson, slf4j}."""
    block = re.search(r"def\s+providedVersions\s*=\s*\[(.*?)\n\]", gradle, re.S)
    assert block, "build.gradle must define providedVersions = [ QuPath release: [...] ]"
    return {release: dict(re.findall(r'(\w+):\s*"([^"]+)"', body))
            for release, body in re.findall(r'"([\d.]+)":\s*\[([^\]]*)\]', block.group(1))}


def pom_profile_properties(pom: ET.Element, profile_id: str) -> dict[str, str]:
    profile = pom.find(f"m:profiles/m:profile[m:id='{profile_id}']", NS)
    assert profile is not None, f"pom.xml has no profile {profile_id}"
    return {el.tag.split("}")[1]: (el.text or "").strip() for el in profile.find("m:properties", NS)}


def test_same_qupath_version_switch_everywhere(pom, gradle):
    settings = re.sub(r"(?m)//.*$", "", SETTINGS.read_text(encoding="utf-8"))
    default = QUPATH_RELEASES[0]
    # -Dqupath.version picks the release in all three files, with the same default.
    for name, text in [("settings.gradle", settings), ("build.gradle", gradle)]:
        switch = re.search(QUPATH_SWITCH, text)
        assert switch, f"{name} must read -Dqupath.version"
        assert switch.group(1) == default, f"{name} defaults to QuPath {switch.group(1)}"
    assert re.search(r"qupath\s*\{\s*version\s*=\s*qupathVersion\s*\}", settings)
    assert re.search(r'id\("io\.github\.qupath\.qupath-extension-settings"\)\s+version\s+"[\d.]+"', settings)
    assert pom_properties(pom)["qupath.version"] == default
    # Both builds write the release into the jar's manifest.
    assert "<QuPath-Version>${qupath.version}</QuPath-Version>" in POM.read_text(encoding="utf-8")
    assert re.search(r'attributes\("QuPath-Version":\s*qupathVersion\)', gradle_block(gradle, "shadowJar"))
    # The adapter build refuses jars of another release than the one named.
    assert "qupath-core-${qupath.version}.jar" in POM.read_text(encoding="utf-8")


def test_same_provided_versions_per_qupath_release(pom, gradle):
    provided = gradle_provided_versions(gradle)
    assert list(provided) == QUPATH_RELEASES
    pom_text = POM.read_text(encoding="utf-8")
    for release in QUPATH_RELEASES:
        props = pom_properties(pom) if release == QUPATH_RELEASES[0] else {
            **pom_properties(pom), **pom_profile_properties(pom, f"qupath-{release}")}
        for prop, key in PROVIDED_PAIRS.items():
            assert provided[release][key] == props[prop], (
                f"QuPath {release}: {key} {provided[release][key]} in build.gradle, {props[prop]} in pom.xml")
        # The provided versions are QuPath's; a comment names the QuPath tag they come from.
        assert f"tag v{release}" in pom_text
    profile = pom.find("m:profiles/m:profile[m:id='qupath-0.7.0']/m:activation/m:property", NS)
    assert profile.find("m:name", NS).text == "qupath.version" and profile.find("m:value", NS).text == "0.7.0"
    for var, key in [("jtsVersion", "jts"), ("gsonVersion", "gson"), ("slf4jVersion", "slf4j")]:
        assert re.search(rf"def\s+{var}\s*=\s*providedVersions\[qupathVersion\]\.{key}\b", gradle), var


def test_extension_states_the_supported_releases(pom):
    java = EXTENSION.read_text(encoding="utf-8")
    low = re.search(r'QUPATH_MIN = "v([\d.]+)"', java)
    high = re.search(r'QUPATH_MAX = "v([\d.]+)"', java)
    assert low and high, "PathoSamExtension must state QUPATH_MIN and QUPATH_MAX"
    assert [low.group(1), high.group(1)] == [QUPATH_RELEASES[0], QUPATH_RELEASES[-1]]
    assert "Version.parse(QUPATH_MIN)" in java, "getQuPathVersion() names the oldest supported release"


def test_one_jar_for_every_release_targets_java_21(pom, gradle):
    # QuPath 0.6 runs on Java 21 and 0.7 on Java 25: class files for 21 load in both, whichever JDK
    # (or QuPath 0.7's JDK 25 toolchain) compiles them.
    assert pom_properties(pom)["maven.compiler.release"] == "21", "QuPath 0.6 runs on Java 21"
    assert 'release="${maven.compiler.release}"' in POM.read_text(encoding="utf-8")
    flags = re.search(r"withType\(JavaCompile\)\.configureEach\s*\{([^}]*)\}", gradle)
    assert flags and re.search(r"options\.release\s*=\s*21\b", flags.group(1))


def test_gradle_source_folders_exist(gradle):
    folders = re.findall(r'srcDir\("([^"]+)"\)', gradle_block(gradle, "sourceSets"))
    assert {"proto", "qupath_extension/src/main/java", "qupath_extension/src/qupath/java",
            "qupath_extension/src/qupath/resources", "qupath_extension/src/test/java"} <= set(folders)
    for folder in folders:
        assert (ROOT / folder).is_dir(), folder
    services = ROOT / "qupath_extension/src/qupath/resources/META-INF/services/qupath.lib.gui.extensions.QuPathExtension"
    cls = services.read_text(encoding="utf-8").strip()
    assert (ROOT / "qupath_extension/src/qupath/java" / (cls.replace(".", "/") + ".java")).is_file(), cls


def test_same_javac_flags(pom, gradle):
    # Both builds fail on any javac warning, for the core, its tests and the QuPath adapter alike.
    core = [a.text for a in pom.findall(".//m:plugin[m:artifactId='maven-compiler-plugin']//m:compilerArgs/m:arg", NS)]
    adapter = re.findall(r'<compilerarg value="([^"]+)"/>', POM.read_text(encoding="utf-8"))
    assert core == ["-Xlint:all", "-Werror"]
    # Only the [path] lint is off where QuPath's jars are on the class path (see the pom's comment).
    assert adapter == ["-Xlint:all", "-Xlint:-path", "-Werror"]
    flags = re.search(r"withType\(JavaCompile\)\.configureEach\s*\{[^}]*compilerArgs\.addAll\(\[([^\]]*)\]\)", gradle)
    assert flags, "build.gradle must add javac flags to every JavaCompile task"
    assert re.findall(r'"([^"]+)"', flags.group(1)) == adapter
