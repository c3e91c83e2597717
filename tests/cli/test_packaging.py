"""A plain (non-editable) ``pip install .`` has everything the commands need.

The wheel is built offline from a clean copy of the source (``pip wheel --no-deps
--no-build-isolation --no-index``; setuptools comes with the dev extra), then checked:

* every module and every package directory with ``.py`` files — namespace packages such as
  ``issuer.api`` too — is in it;
* every other file under the packages (JSON-LD contexts, JSON Schemas, the municipalities CSV,
  templates, static files, the migrations, ``py.typed``) is in it, and so is every file the
  code opens by name (``resources.files("pkg").joinpath("…")`` in the source, the contexts and
  schemas their index files name);
* the console scripts point at functions that the wheel holds;
* the unpacked wheel **alone** (no editable finder, no source tree on the path) imports every
  module, runs ``furusato-issuer init`` and ``token create`` on SQLite (migrations,
  municipalities table), serves the issuer's pages and static files, and loads every
  bundled context and schema.
"""

from __future__ import annotations

import configparser
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("did", "schemas", "vc", "shellkit", "issuer", "verifier", "wallet_cli")
BUILD_TIMEOUT = 120  # seconds; the build takes ~3 s, the run of the wheel ~5 s
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", "*.egg-info", ".*")
OPENED = re.compile(r'resources\.files\("(\w+)"\)\.joinpath\("([^"]+)"\)')
LG = "015814"


def source_files() -> set[str]:
    """Every file of the packages in the source tree, as paths relative to it."""
    found = set()
    for top in PACKAGES:
        for path in (ROOT / top).rglob("*"):
            parts = path.relative_to(ROOT).parts
            cached = any(part == "__pycache__" or part.startswith(".") for part in parts)
            if path.is_file() and not cached and path.suffix not in (".pyc", ".pyo"):
                found.add("/".join(parts))
    return found


def opened_by_name() -> set[str]:
    """The files and folders the code opens with ``resources.files(…).joinpath("…")``, and the
    contexts and schemas that the index files it reads name."""
    opened = set()
    for path in ROOT.glob("*/**/*.py"):
        if path.relative_to(ROOT).parts[0] in PACKAGES:
            for package, name in OPENED.findall(path.read_text("utf-8")):
                opened.add(f"{package}/{name}")
    contexts = json.loads((ROOT / "schemas/contexts/index.json").read_text("utf-8"))
    opened |= {f"schemas/contexts/{name}" for name in contexts.values()}
    schemas = json.loads((ROOT / "schemas/json/index.json").read_text("utf-8"))
    opened |= {f"schemas/json/{name}" for name in schemas.values()}
    return opened


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from a copy of what a clone or a release tarball holds (no build/,
    no egg-info, no caches of this checkout)."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "furusato-vc"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for top in PACKAGES:
        shutil.copytree(ROOT / top, source / top, ignore=IGNORED)
    out = base / "dist"
    if importlib.util.find_spec("setuptools") is None:  # the build backend pip runs below
        pytest.fail("setuptools is not installed: pip install -e '.[dev]'")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--quiet",
            "--wheel-dir",
            str(out),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
        env=dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1"),
    )
    assert done.returncode == 0, (
        f"pip wheel failed (the dev extra brings setuptools: pip install -e '.[dev]')\n"
        f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    (built,) = out.glob("furusato_vc-*.whl")
    return built


def wheel_files(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return {name for name in archive.namelist() if not name.endswith("/")}


def test_the_wheel_holds_every_module_and_package_directory(wheel: Path) -> None:
    held = wheel_files(wheel)
    modules = {f for f in source_files() if f.endswith(".py")}
    assert sorted(modules - held) == []
    directories = {f.rsplit("/", 1)[0] for f in modules}
    assert {"issuer/api", "issuer/identity", "issuer/migrations/versions", "vc/suites"} <= (
        directories
    )
    assert sorted(d for d in directories if not any(f.startswith(d + "/") for f in held)) == []
    # nothing of the tests, the benchmarks or a checkout's caches
    assert not [f for f in held if f.startswith(("tests/", "bench/", "scripts/"))]
    assert not [f for f in held if "__pycache__" in f or f.endswith(".pyc")]


def test_the_wheel_holds_every_data_file_the_code_reads(wheel: Path) -> None:
    held = wheel_files(wheel)
    data = {f for f in source_files() if not f.endswith(".py")}
    assert len(data) >= 40  # contexts, schemas, CSV, templates, static…
    assert sorted(data - held) == []
    opened = opened_by_name()
    assert {
        "schemas/data/municipalities.csv",
        "schemas/contexts/index.json",
        "schemas/json",
        "issuer/templates",
        "issuer/static",
        "issuer/migrations",
        "verifier/templates",
        "verifier/static",
    } <= opened
    missing = [
        name
        for name in sorted(opened)
        if name not in held and not any(f.startswith(name + "/") for f in held)
    ]
    assert missing == []
    for package in PACKAGES:
        assert f"{package}/py.typed" in held


def test_the_console_scripts_point_into_the_wheel(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        (entry_points,) = [
            n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt")
        ]
        parser = configparser.ConfigParser()
        parser.read_string(archive.read(entry_points).decode("utf-8"))
    scripts = dict(parser["console_scripts"])
    assert set(scripts) == {"furusato-issuer", "furusato-verifier", "furusato-wallet"}
    held = wheel_files(wheel)
    for target in scripts.values():
        module, _, function = target.partition(":")
        path = module.replace(".", "/") + ".py"
        assert path in held, target
        with zipfile.ZipFile(wheel) as archive:
            assert f"def {function}(" in archive.read(path).decode("utf-8"), target


CHILD = r"""
import importlib, os, sys
from pathlib import Path

unpacked = Path(sys.argv[1]).resolve()
data = Path(sys.argv[2])
tops = ("did", "schemas", "vc", "shellkit", "issuer", "verifier", "wallet_cli")

# every module of the wheel imports, from the wheel (the migrations run inside Alembic: init)
names = sorted(
    ".".join(p.relative_to(unpacked).with_suffix("").parts).removesuffix(".__init__")
    for top in tops
    for p in (unpacked / top).rglob("*.py")
    if not p.relative_to(unpacked).as_posix().startswith("issuer/migrations/")
)
for name in names:
    importlib.import_module(name)
for name, module in list(sys.modules.items()):
    if name.split(".")[0] in tops:
        where = getattr(module, "__file__", None) or next(iter(module.__path__))
        assert Path(where).resolve().is_relative_to(unpacked), (name, where)

# the bundled contexts (hash-pinned) and schemas, the municipalities table
from schemas.loader import bundled_context, bundled_context_urls
from schemas.municipalities import municipality_table
from vc.furusato import schema_for
for url in bundled_context_urls():
    bundled_context(url)
schema_for("FurusatoResidentCredential")
assert municipality_table().get("015814").name == "厚真町"

# the commands: init (migrations) and token create, on SQLite
from click.testing import CliRunner
from issuer.cli import main
os.environ["FURUSATO_ISSUER_SECRET"] = "packaging-test-secret-0123456789"
for args in (["init", "--lg-code", "015814"], ["token", "create", "--lg-code", "015814", "--role", "admin"]):
    result = CliRunner().invoke(main, [*args, "--data-dir", str(data)])
    assert result.exit_code == 0, (args, result.output, result.exception)

# the service's pages and static files
from fastapi.testclient import TestClient
from issuer.app import create_app
from issuer.bootstrap import open_services
from issuer.settings import Settings
settings = Settings(data_dir=data, secret=os.environ["FURUSATO_ISSUER_SECRET"])
svc = open_services(settings, settings.secret)
with TestClient(create_app(svc), base_url="http://localhost:8000") as client:
    for path in ("/", "/lg/015814/register", "/admin", "/static/style.css", "/lg/015814/did.json"):
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
svc.close()
print("wheel ok", len(names), "modules")
"""


def test_the_unpacked_wheel_alone_runs_the_commands_and_the_service(
    wheel: Path, tmp_path: Path
) -> None:
    unpacked = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(unpacked)
    # -S: no site-packages .pth files, so the editable install's finder cannot lend a module
    # of this checkout; the dependencies come from the venv's site-packages, after the wheel
    paths = sysconfig.get_paths()
    search = [str(unpacked), paths["purelib"], paths["platlib"]]
    script = tmp_path / "child.py"
    script.write_text(CHILD, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-S", str(script), str(unpacked), str(tmp_path / "data")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=BUILD_TIMEOUT,
        check=False,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp_path),
            "PYTHONPATH": os.pathsep.join(dict.fromkeys(search)),
            "PYTHONUTF8": "1",
        },
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert "wheel ok" in done.stdout
