"""The built wheel installs into a fresh virtual environment and runs outside the source tree, and every
package the code imports is declared in the group (core or extra) whose code imports it."""

import ast
import shutil
import subprocess
import sys
import tomllib
import venv
import zipfile
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import EXAMPLE_STUDY, ROOT

EXTENSION = ROOT / "ndx-drug-stress"


def build_wheels(dist: Path) -> tuple[Path, Path]:
    """Build the ndx-drug-stress and the nwb-ketamine wheels into ``dist``; return them in that order."""
    for source in (EXTENSION, ROOT):
        build = [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(source)]
        subprocess.run(build, check=True, capture_output=True)
    (extension,) = dist.glob("ndx_drug_stress-*.whl")
    (wheel,) = dist.glob("nwb_ketamine-*.whl")
    return extension, wheel


def pip_install(python: Path, dist: Path, *requirements: str) -> None:
    """Install ``requirements`` with the wheels in ``dist`` found first (the extension is not on an index)."""
    install = [python, "-m", "pip", "install", "--quiet", "--find-links", str(dist), *requirements]
    result = subprocess.run(install, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.slow
def test_wheel_installs_and_runs_outside_the_checkout(tmp_path):
    dist = tmp_path / "dist"
    extension, wheel = build_wheels(dist)
    shipped = set(zipfile.ZipFile(wheel).namelist())
    folders = {
        "nwb_ketamine": "nwb_ketamine",
        "converters": "nwb_ketamine/converters",
        "explorer": "nwb_ketamine/explorer",
        "schemas": "nwb_ketamine/schemas",
    }
    for folder, installed in folders.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            expected = f"{installed}/{init.relative_to(ROOT / folder).as_posix()}"
            assert expected in shipped, f"{expected} is missing from the wheel: list it in pyproject.toml"
    assert "nwb_ketamine/schemas/study.schema.json" in shipped
    assert not [name for name in shipped if "ndx-drug-stress" in name], "the extension's spec ships in its own package"
    spec = {f"ndx_drug_stress/spec/ndx-drug-stress.{kind}.yaml" for kind in ("namespace", "extensions")}
    assert spec | {"ndx_drug_stress/vocabulary.json"} <= set(zipfile.ZipFile(extension).namelist())
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    pip_install(python, dist, str(extension), str(wheel))

    outside = tmp_path / "elsewhere"
    shutil.copytree(EXAMPLE_STUDY.parent, outside / "examples", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, str(outside / "examples" / "make_example_raw.py")], check=True, cwd=outside)
    command = env_dir / "bin" / "nwb-ketamine"

    help_ = subprocess.run([command, "--help"], capture_output=True, text=True, cwd=outside, check=True)
    assert "check" in help_.stdout
    result = subprocess.run(
        [command, "check", "examples/study.yaml"], capture_output=True, text=True, cwd=outside, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "2 subjects" in result.stdout
    where = subprocess.run(
        [python, "-c", "import nwb_ketamine.extension as e, ndx_drug_stress as n; print(e.NAMESPACE_PATH, n.__file__)"],
        capture_output=True,
        text=True,
        cwd=outside,
        check=True,
    )
    assert str(env_dir) in where.stdout and str(ROOT) not in where.stdout
    for name in ("converters", "explorer", "schemas"):
        probe = subprocess.run([python, "-c", f"import {name}"], capture_output=True, cwd=outside, check=False)
        assert probe.returncode != 0, f"a generic top-level module {name!r} is installed"


def _groups() -> dict[str, set[str]]:
    """Declared distributions by group: ``core`` and each extra, names normalised."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    groups = {"core": {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}}
    for extra, requirements in project["optional-dependencies"].items():
        groups[extra] = {canonicalize_name(Requirement(r).name) for r in requirements}
    return groups


def _imported_distributions(folder: Path) -> dict[str, set[str]]:
    """Third-party distributions each module under ``folder`` imports (at the top or inside functions)."""
    by_import = packages_distributions()
    found = {}
    for path in sorted(folder.rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        names -= set(sys.stdlib_module_names) | {"nwb_ketamine", "__future__"}
        found[path.relative_to(ROOT).as_posix()] = {
            canonicalize_name(dist) for name in names for dist in by_import.get(name, [name])
        }
    return found


@pytest.mark.parametrize(
    ("folder", "extras"),
    [("nwb_ketamine", None), ("converters", {"convert"}), ("explorer", {"explore"}), ("schemas", set())],
)
def test_every_imported_package_is_declared_in_its_group(folder, extras):
    groups = _groups()
    allowed = groups["core"] | set().union(*(groups[e] for e in (extras or groups.keys() - {"test", "bench", "all"})))
    for module, dists in _imported_distributions(ROOT / folder).items():
        missing = dists - allowed
        assert not missing, (
            f"{module} imports {sorted(missing)}: declare them in pyproject.toml ({extras or 'an extra'})"
        )


@pytest.mark.slow
def test_explore_extra_alone_exports_a_figure(tiny_archive, tmp_path):
    """``pip install nwb-ketamine[explore]`` in a fresh environment is enough to open a catalog and export
    the compare figure (matplotlib, pyarrow and the rest come with the extra, not from elsewhere)."""
    dist = tmp_path / "dist"
    extension, wheel = build_wheels(dist)
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    pip_install(python, dist, str(extension), f"{wheel}[explore]")
    archive = shutil.copytree(tiny_archive, tmp_path / "archive")
    script = (
        "import sys\n"
        "from nwb_ketamine.explorer.compare import CompareView\n"
        "from nwb_ketamine.explorer.store import ArchiveStore\n"
        "view = CompareView(ArchiveStore(sys.argv[1]))\n"
        "for fmt in ('png', 'svg'):\n"
        "    open(f'{sys.argv[2]}.{fmt}', 'wb').write(view.figure_bytes(fmt).read())\n"
    )
    out = tmp_path / "figure"
    run = subprocess.run([python, "-c", script, str(archive), str(out)], capture_output=True, text=True,
                         cwd=tmp_path, check=False)  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert (tmp_path / "figure.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "NMDAR" in (tmp_path / "figure.svg").read_text()


@pytest.mark.slow
def test_the_extension_installs_alone_and_its_own_tests_pass(tmp_path):
    """``pip install ./ndx-drug-stress`` in a fresh environment (pynwb from the index, no nwb-ketamine), then
    the package's own tests pass there, importing the installed package, not the source beside them."""
    source = shutil.copytree(EXTENSION, tmp_path / "ndx-drug-stress",
                             ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))  # fmt: skip
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    pip_install(python, tmp_path, f"{source}[test]")
    probe = "import importlib.util as u, ndx_drug_stress as n; print(n.__file__, u.find_spec('nwb_ketamine'))"
    where = subprocess.run([python, "-c", probe], capture_output=True, text=True, cwd=tmp_path, check=True)
    assert where.stdout.startswith(str(env_dir)) and where.stdout.split()[-1] == "None", where.stdout
    run = subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider"], capture_output=True, text=True,
                         cwd=source, check=False)  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and " failed" not in run.stdout and " error" not in run.stdout, run.stdout[-500:]
