"""`make web-deps`: a tarball that is not the pinned one is refused and changes nothing; the
pinned one is unpacked without national branding, and a second run is free."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "web_deps.sh"
TARBALL = "uswds-3.14.0.tgz"
WIDGET_TARBALL = "altcha-3.2.2.tgz"


def run(tmp_path: Path, registry: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "GUICHET_TOOLS_DIR": str(tmp_path / "tools"),
        "WEB_ASSETS_LOCK": str(ROOT / "gateway" / "web-assets.lock"),
        "WEB_ASSETS_DIR": str(tmp_path / "static" / "vendor"),
        "NPM_REGISTRY": registry.as_uri(),
    }
    return subprocess.run([str(SCRIPT)], env=env, capture_output=True, text=True, check=False)


def registry_with(tmp_path: Path, content: bytes) -> Path:
    """A registry holding `content` as the design system's tarball, the other pins as they are."""
    registry = tmp_path / "registry"
    folder = registry / "@uswds" / "uswds" / "-"
    folder.mkdir(parents=True)
    (folder / TARBALL).write_bytes(content)
    widget = registry / "altcha" / "-"
    widget.mkdir(parents=True)
    (widget / WIDGET_TARBALL).write_bytes(pinned_tarball(WIDGET_TARBALL))
    return registry


def pinned_tarball(name: str = TARBALL) -> bytes:
    tools = Path(os.environ.get("GUICHET_TOOLS_DIR", Path.home() / ".cache" / "openguichet"))
    return (tools / "npm" / name).read_bytes()


def test_a_tarball_that_is_not_the_pinned_one_is_refused_and_changes_nothing(
    tmp_path: Path, web_deps: None
) -> None:
    served = tmp_path / "static" / "vendor"
    served.mkdir(parents=True)
    (served / "kept.css").write_text("body {}")
    registry = registry_with(tmp_path, pinned_tarball() + b"tampered")

    result = run(tmp_path, registry)

    assert result.returncode == 1
    assert "does not match its sha512" in result.stderr
    assert [p.name for p in served.iterdir()] == ["kept.css"], "the served assets are untouched"
    assert not list((tmp_path / "tools" / "npm").iterdir()), "nothing refused is cached"
    assert [p.name for p in (tmp_path / "static").iterdir()] == ["vendor"], "no half-unpacked copy"


def test_the_pinned_tarball_is_unpacked_without_branding_and_a_rerun_is_free(
    tmp_path: Path, web_deps: None
) -> None:
    registry = registry_with(tmp_path, pinned_tarball())

    first = run(tmp_path, registry)

    assert first.returncode == 0, first.stderr
    uswds = tmp_path / "static" / "vendor" / "uswds"
    assert (uswds / "css" / "uswds.min.css").is_file()
    assert list((uswds / "fonts").rglob("*.woff2"))
    images = [p.name for p in (uswds / "img").rglob("*")]
    assert "usa-icons" in images
    branded = [n for n in images if n.startswith(("us_flag", "usa-banner", "icon-dot-gov"))]
    assert not branded and "favicons" not in images and "material-icons" not in images
    widget = tmp_path / "static" / "vendor" / "altcha"
    assert sorted(str(p.relative_to(widget)) for p in widget.rglob("*.*")) == [
        "LICENSE.txt",
        "external/altcha.css",
        "external/altcha.min.js",
        "i18n/de.js",
        "i18n/fr-fr.js",
        "workers/pbkdf2.js",
    ], "only the widget's CSP build, its one worker and its fr/de texts"
    shutil.rmtree(registry)  # a second run must need neither the registry nor the cache

    second = run(tmp_path, registry)

    assert second.returncode == 0, second.stderr
    assert second.stdout == ""
