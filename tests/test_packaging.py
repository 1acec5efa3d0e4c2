"""Packaging (docs/product.md F17): build.spec ships every resource, and the one resources helper finds
them both from source and from a bundle's layout (sys._MEIPASS)."""

from __future__ import annotations

import ast
import re
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import desktop_sms
from desktop_sms.db.migrate import alembic_config, head_revision
from desktop_sms.resources import asset_path, package_path, read_text

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "build.spec"
SHIPPED_SUFFIXES = {".py", ".mako", ".qss", ".png"}


def _spec_tree() -> ast.Module:
    return ast.parse(SPEC.read_text(encoding="utf-8"), filename=str(SPEC))


def _is_wanted(node: ast.stmt, names: tuple[str, ...]) -> bool:
    if isinstance(node, ast.ImportFrom):
        return not (node.module or "").startswith("PyInstaller")
    if isinstance(node, ast.Import):
        return True
    if isinstance(node, ast.FunctionDef):
        return node.name in names
    if isinstance(node, ast.Assign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return any(isinstance(t, ast.Name) and t.id in names for t in targets)
    return False


def _spec_part(*names: str) -> SimpleNamespace:
    """Run only the named top-level definitions of build.spec (it needs PyInstaller to run
    whole), with the stdlib imports they use."""
    keep = [node for node in _spec_tree().body if _is_wanted(node, names)]
    namespace: dict[str, Any] = {"SPECPATH": str(ROOT), "__name__": "build_spec"}
    exec(compile(ast.Module(body=keep, type_ignores=[]), str(SPEC), "exec"), namespace)
    return SimpleNamespace(**{n: namespace[n] for n in names})


def _bundle_layout(target: Path) -> list[Path]:
    """Copy the data files the way build.spec places them in the bundle; returns the copies."""
    spec = _spec_part("ROOT", "PACKAGE", "DATA_PATTERNS", "data_files")
    copies = []
    for source, folder in spec.data_files():
        dest = target / folder / Path(source).name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, dest)
        copies.append(dest)
    return copies


def _package_files(relative: str) -> set[str]:
    base = ROOT / "desktop_sms"
    return {p.relative_to(base).as_posix() for p in (base / relative).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}


def test_build_spec_is_python_and_lists_the_migrations_and_assets() -> None:
    text = SPEC.read_text(encoding="utf-8")
    _spec_tree()  # parses
    for needle in ("desktop_sms/db/migrations", "desktop_sms/db/migrations/versions",
                   "script.py.mako", "desktop_sms/assets", "COLLECT", '"Desktop SMS"'):
        assert needle in text
    spec = _spec_part("ROOT", "PACKAGE", "DATA_PATTERNS", "data_files")
    shipped = {Path(src).relative_to(ROOT / "desktop_sms").as_posix()
               for src, _folder in spec.data_files()}
    # Every migration (env.py, the template, each version) and every asset is shipped ...
    assert _package_files("db/migrations") <= shipped
    assert _package_files("assets") <= shipped
    assert "db/migrations/versions/0001_initial_schema.py" in shipped
    # ... placed under desktop_sms/ like the source tree, and nothing else (no secrets, no
    # databases, no local settings).
    for src, folder in spec.data_files():
        assert Path(src).parent.relative_to(ROOT).as_posix() == folder
        assert Path(src).suffix in SHIPPED_SUFFIXES, src


def test_build_spec_reads_the_version_from_the_package_without_importing_it() -> None:
    spec = _spec_part("ROOT", "PACKAGE", "package_version", "version_tuple")
    assert spec.package_version() == desktop_sms.__version__
    assert spec.version_tuple("1.2.3") == (1, 2, 3, 0)
    assert spec.version_tuple("0.1.0rc1") == (0, 1, 0, 1)


def test_build_spec_names_the_bundle_and_its_icons() -> None:
    spec = _spec_part("APP_NAME", "EXE_NAME", "BUNDLE_ID")
    assert spec.APP_NAME == "Desktop SMS"
    assert spec.EXE_NAME in ("desktop-sms", "Desktop SMS")
    assert spec.BUNDLE_ID == "com.desktopsms.app"
    text = SPEC.read_text(encoding="utf-8")
    for icon in ("icon.ico", "icon.icns"):
        assert f'"resources" / "{icon}"' in text
        assert (ROOT / "resources" / icon).stat().st_size > 0
    assert "VSVersionInfo(" in text  # Windows version resource


def _info_plist() -> dict[str, Any]:
    """The info_plist= of BUNDLE(...), with names of the spec's constants left as names."""
    for node in ast.walk(_spec_tree()):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "BUNDLE":
            for kw in node.keywords:
                if kw.arg == "info_plist":
                    assert isinstance(kw.value, ast.Dict)
                    plist: dict[str, Any] = {}
                    for key, value in zip(kw.value.keys, kw.value.values, strict=True):
                        assert isinstance(key, ast.Constant)
                        plist[key.value] = (value.value if isinstance(value, ast.Constant)
                                            else ast.unparse(value))
                    return plist
    raise AssertionError("build.spec has no BUNDLE(..., info_plist=...)")


def test_macos_info_plist_keeps_scheduled_sending_awake() -> None:
    plist = _info_plist()
    assert plist["NSAppSleepDisabled"] is True  # App Nap off
    assert plist["LSUIElement"] is False
    assert plist["CFBundleIdentifier"] == "BUNDLE_ID"
    assert plist["CFBundleShortVersionString"] == "VERSION"
    assert plist["NSRequiresAquaSystemAppearance"] is False  # follows dark mode


def test_build_spec_excludes_unused_qt_parts_and_tkinter() -> None:
    spec = _spec_part("excludes")
    for name in ("tkinter", "PySide6.QtWebEngineCore", "PySide6.QtQuick", "PySide6.QtQml",
                 "PySide6.Qt3DCore", "PySide6.QtMultimedia", "PySide6.QtCharts",
                 "PySide6.QtDataVisualization", "PySide6.QtBluetooth", "PySide6.QtPositioning",
                 "PySide6.QtSensors", "PySide6.QtSerialPort", "PySide6.QtWebSockets",
                 "PySide6.QtPdf", "PySide6.QtDesigner"):
        assert name in spec.excludes


@pytest.mark.parametrize(("dest", "unused"), [
    ("PySide6/Qt/lib/libQt6Widgets.so.6", False),
    ("PySide6/Qt/lib/libQt6Core.so.6", False),
    ("PySide6/Qt6Gui.dll", False),
    ("PySide6/Qt/lib/QtGui.framework/Versions/A/QtGui", False),
    ("PySide6/Qt/lib/libQt6Quick.so.6", True),
    ("PySide6/Qt/lib/libQt6Qml.so.6", True),
    ("PySide6/Qt6Pdf.dll", True),
    ("PySide6/Qt/lib/QtWebEngineCore.framework/Versions/A/QtWebEngineCore", True),
    ("PySide6/Qt/translations/qtbase_de.qm", True),
    ("PySide6/Qt/plugins/platforms/libqoffscreen.so", False),
    ("PySide6/Qt/plugins/platforms/libqxcb.so", False),
    ("PySide6/plugins/platforms/qwindows.dll", False),
    ("PySide6/Qt/plugins/platforms/libqcocoa.dylib", False),
    ("PySide6/Qt/plugins/platforms/libqeglfs.so", True),
    ("PySide6/Qt/plugins/platforms/libqvnc.so", True),
    ("PySide6/Qt/plugins/imageformats/libqjpeg.so", False),
    ("PySide6/Qt/plugins/imageformats/libqsvg.so", True),
    ("PySide6/plugins/imageformats/qico.dll", False),
    ("PySide6/Qt/plugins/imageformats/libqpdf.so", True),
    ("PySide6/Qt/plugins/imageformats/libqtiff.so", True),
    ("PySide6/Qt/plugins/egldeviceintegrations/libqeglfs-kms-integration.so", True),
    ("PySide6/Qt/qml/QtQuick/Controls/qmldir", True),
    ("desktop_sms/assets/style.qss", False),
    ("libQt6Quick_not_pyside.so", False),
    ("PySide6/Qt/lib/libQt6Network.so.6", True),
    ("PySide6/Qt/plugins/tls/libqopensslbackend.so", True),
    ("PySide6/Qt/plugins/platformthemes/libqgtk3.so", True),
    ("PySide6/Qt/plugins/platformthemes/libqxdgdesktopportal.so", False),
    ("PySide6/Qt/lib/libQt6DBus.so.6", False),
])
def test_unused_qt_files_are_filtered_out_of_the_bundle(dest: str, unused: bool) -> None:
    spec = _spec_part("_UNUSED_QT_LIB", "_UNUSED_PLUGIN_DIRS", "_UNUSED_PLATFORM_THEMES",
                      "KEEP_IMAGEFORMATS", "KEEP_PLATFORMS", "_plugin_name", "is_unused_qt_file")
    assert spec.is_unused_qt_file(dest) is unused


def test_migrations_are_found_from_source() -> None:
    versions = package_path("db/migrations/versions")
    assert versions.is_dir()
    assert any(re.match(r"0001_.*\.py$", p.name) for p in versions.iterdir())
    assert (package_path("db/migrations") / "env.py").is_file()


def test_resources_helper_finds_the_style_and_icon_from_source() -> None:
    assert asset_path("style.qss").is_file()
    assert asset_path("icon.png").read_bytes().startswith(b"\x89PNG")
    assert read_text("style.qss") == (ROOT / "desktop_sms/assets/style.qss").read_text("utf-8")
    assert asset_path("icon.png") == ROOT / "desktop_sms" / "assets" / "icon.png"


def test_resources_helper_resolves_a_frozen_bundle_layout(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = tmp_path / "_internal"
    copies = _bundle_layout(bundle)
    assert copies
    monkeypatch.setattr(sys, "_MEIPASS", str(bundle), raising=False)

    assert package_path("db/migrations") == bundle / "desktop_sms" / "db" / "migrations"
    assert asset_path("icon.png") == bundle / "desktop_sms" / "assets" / "icon.png"
    assert asset_path("icon.png").is_file()
    assert read_text("style.qss") == (ROOT / "desktop_sms/assets/style.qss").read_text("utf-8")
    # Alembic, pointed at the bundle's copy, sees the same migrations as from source.
    script_location = alembic_config("sqlite://").get_main_option("script_location")
    assert script_location is not None
    assert Path(script_location) == bundle / "desktop_sms" / "db" / "migrations"
    frozen_head = head_revision()
    monkeypatch.delattr(sys, "_MEIPASS")
    assert frozen_head == head_revision()
