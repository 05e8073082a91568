"""catalog/catalog.json: the extension's entry for QuPath's extension manager (Extensions > Manage extensions).

QuPath reads a catalog with the rules of qupath/extension-catalog-model (the Python model that documents
the format) and of the extension manager's own Java records (CatalogModel, ExtensionModel, ReleaseModel,
VersionRangeModel), which reject a catalog whose fields are missing, whose versions are not
"v[MAJOR].[MINOR].[PATCH]" (optionally "-rcN"), whose ranges run backwards, or whose homepage and jar are
not on github.com. This test holds the catalog to those rules, checks that its releases cover every QuPath
release the extension builds for, and that it states the same range, version and jar name as the build.
"""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "catalog" / "catalog.json"
POM = ROOT / "qupath_extension" / "pom.xml"
EXTENSION = ROOT / "qupath_extension/src/qupath/java/qupath/ext/pathosam/ui/PathoSamExtension.java"
NS = {"m": "http://maven.apache.org/POM/4.0.0"}

# The QuPath releases the extension is built and tested for (tests/test_build_versions.py: QUPATH_RELEASES).
SUPPORTED = ["v0.6.0", "v0.7.0"]

VERSION = re.compile(r"^v([0-9]+)\.([0-9]+)\.([0-9]+)(?:-rc([0-9]+))?$")
# The model's own test for a github.com repository path (owner and name start with letters or digits).
GITHUB_REPO_PATH = re.compile(r"^/[0-9a-zA-Z]+/[0-9a-zA-Z]+/?")
DEPENDENCY_HOSTS = {"github.com", "maven.scijava.org", "repo1.maven.org"}

FIELDS = {
    "catalog": ({"name", "description", "extensions"}, set()),
    "extension": ({"name", "description", "author", "homepage", "releases"}, {"starred"}),
    "release": ({"name", "main_url", "version_range"},
                {"required_dependency_urls", "optional_dependency_urls", "javadoc_urls"}),
    "version_range": ({"min"}, {"max", "excludes"}),
}


def version_key(text: str) -> tuple[int, int, int, float]:
    """Sort key of a catalog version; a release candidate comes before its release."""
    m = VERSION.match(text)
    assert m, f"{text!r} is not v[MAJOR].[MINOR].[PATCH] (optionally -rcN)"
    rc = float(m.group(4)) if m.group(4) else float("inf")
    return int(m.group(1)), int(m.group(2)), int(m.group(3)), rc


def check_fields(obj: dict, kind: str) -> None:
    required, optional = FIELDS[kind]
    missing = required - obj.keys()
    assert not missing, f"{kind} lacks {sorted(missing)}"
    # The readers ignore unknown keys, so a misspelt one ("mainUrl") would vanish silently.
    unknown = obj.keys() - required - optional
    assert not unknown, f"{kind} has unknown fields {sorted(unknown)}"


def check_primary_url(url: str) -> tuple[str, str]:
    """A homepage or main jar URL: https on github.com under owner/repository; returns (owner, repository)."""
    parsed = urlparse(url)
    assert parsed.scheme == "https", f"{url}: URLs must use https"
    assert parsed.hostname == "github.com", f"{url}: homepage and main_url must be on github.com"
    assert GITHUB_REPO_PATH.match(parsed.path), f"{url}: must point into a GitHub repository"
    owner, repo = parsed.path.strip("/").split("/")[:2]
    return owner, repo


def compatible(version_range: dict, qupath: str) -> bool:
    """VersionRangeModel.isCompatible: min <= qupath <= max (when given), and not excluded."""
    v = version_key(qupath)
    if v < version_key(version_range["min"]):
        return False
    if version_range.get("max") is not None and v > version_key(version_range["max"]):
        return False
    return qupath not in (version_range.get("excludes") or [])


@pytest.fixture(scope="module")
def catalog() -> dict:
    return json.loads(CATALOG.read_text(encoding="utf-8"))


def check_catalog(catalog: dict) -> None:
    """Every rule of the catalog model and of QuPath's reader; an AssertionError names the first broken one."""
    check_fields(catalog, "catalog")
    assert isinstance(catalog["extensions"], list) and catalog["extensions"]
    names = [e["name"] for e in catalog["extensions"]]
    assert len(names) == len(set(names)), "duplicated extension names are not allowed"
    for ext in catalog["extensions"]:
        check_fields(ext, "extension")
        assert all(isinstance(ext[k], str) and ext[k].strip() for k in ("name", "description", "author"))
        assert isinstance(ext.get("starred", False), bool)
        check_primary_url(ext["homepage"])
        assert ext["releases"], f"{ext['name']} lists no release"
        for release in ext["releases"]:
            check_fields(release, "release")
            version_key(release["name"])
            check_primary_url(release["main_url"])
            for key in ("required_dependency_urls", "optional_dependency_urls", "javadoc_urls"):
                for url in release.get(key) or []:
                    parsed = urlparse(url)
                    assert parsed.scheme == "https" and parsed.hostname in DEPENDENCY_HOSTS, url
            vr = release["version_range"]
            check_fields(vr, "version_range")
            low = version_key(vr["min"])
            if vr.get("max") is not None:
                assert low <= version_key(vr["max"]), f"{release['name']}: min {vr['min']} > max {vr['max']}"
            for excluded in vr.get("excludes") or []:
                assert low <= version_key(excluded), excluded
                if vr.get("max") is not None:
                    assert version_key(excluded) <= version_key(vr["max"]), excluded


def test_catalog_follows_the_model(catalog):
    check_catalog(catalog)


def test_releases_cover_every_supported_qupath(catalog):
    (ext,) = [e for e in catalog["extensions"] if e["name"] == "PathoSAM"]
    for qupath in SUPPORTED:
        assert any(compatible(r["version_range"], qupath) for r in ext["releases"]), f"no release for QuPath {qupath}"
    # Releases newest first, as QuPath's catalogs list them (the manager offers the first compatible one).
    names = [version_key(r["name"]) for r in ext["releases"]]
    assert names == sorted(names, reverse=True)


def test_catalog_agrees_with_the_build(catalog):
    (ext,) = [e for e in catalog["extensions"] if e["name"] == "PathoSAM"]
    newest = ext["releases"][0]
    pom = ET.parse(POM).getroot()
    artifact = pom.find("m:artifactId", NS).text
    version = pom.find("m:version", NS).text.removesuffix("-SNAPSHOT")
    assert newest["name"] == f"v{version}"
    assert newest["main_url"].endswith(f"/releases/download/v{version}/{artifact}-{version}.jar")
    # One jar serves the whole range the extension itself states (PathoSamExtension.QUPATH_MIN / MAX).
    java = EXTENSION.read_text(encoding="utf-8")
    low = re.search(r'QUPATH_MIN = "(v[\d.]+)"', java).group(1)
    high = re.search(r'QUPATH_MAX = "(v[\d.]+)"', java).group(1)
    assert [newest["version_range"]["min"], newest["version_range"].get("max")] == [low, high] == [SUPPORTED[0], SUPPORTED[-1]]
    # Homepage and jar point into the same repository.
    assert check_primary_url(ext["homepage"]) == check_primary_url(newest["main_url"])


def test_placeholder_owner_cannot_be_a_real_account(catalog):
    # Until the project publishes its repository the owner is a marked placeholder, longer than the
    # 39 characters GitHub allows, so the catalog can never send users to a stranger's account.
    (ext,) = [e for e in catalog["extensions"] if e["name"] == "PathoSAM"]
    owner, _ = check_primary_url(ext["homepage"])
    if owner.startswith("ReplaceWith"):
        assert len(owner) > 39


@pytest.mark.parametrize("bad, message", [
    ({"min": "0.6.0"}, "not v"),
    ({"min": "v0.7.0", "max": "v0.6.0"}, "min"),
    ({"min": "v0.6"}, "not v"),
])
def test_the_rules_reject_bad_ranges(bad, message):
    # The checks above would catch what QuPath's reader rejects.
    release = {"name": "v0.1.0", "main_url": "https://github.com/a/b/releases/download/v0.1.0/x.jar", "version_range": bad}
    with pytest.raises(AssertionError, match=message):
        check_catalog({"name": "n", "description": "d", "extensions": [
            {"name": "x", "description": "d", "author": "a", "homepage": "https://github.com/a/b", "releases": [release]}]})
