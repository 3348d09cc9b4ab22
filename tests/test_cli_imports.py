"""The CLI imports only what a command needs: ``--help`` loads none of the heavy libraries."""

import json
import subprocess
import sys

HEAVY = ("panel", "neo", "nwbinspector", "pynwb", "dandi", "scipy", "h5py", "dask")

PROBE = """
import json, runpy, sys
sys.argv = ["nwb-ketamine", *sys.argv[1:]]
try:
    runpy.run_module("nwb_ketamine.cli", run_name="__main__")
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})), file=sys.stderr)
"""


def _heavy_imported(*argv: str) -> list[str]:
    """Heavy top-level packages in ``sys.modules`` after running ``nwb-ketamine ARGV`` in a fresh interpreter."""
    probe = PROBE.format(heavy=set(HEAVY))
    out = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True, check=True)
    return sorted({m.split(".")[0] for m in json.loads(out.stderr.strip().splitlines()[-1])})


def test_help_imports_no_heavy_library():
    """``nwb-ketamine --help`` and a subcommand's ``--help`` load none of panel, neo, nwbinspector, pynwb..."""
    assert _heavy_imported("--help") == []
    assert _heavy_imported("convert", "--help") == []


def test_the_probe_sees_a_heavy_import():
    """The probe is not blind: importing the simulator's writers does pull in scipy."""
    probe = PROBE.replace(
        'runpy.run_module("nwb_ketamine.cli", run_name="__main__")', "import nwb_ketamine.simulate.study"
    )
    out = subprocess.run([sys.executable, "-c", probe.format(heavy=set(HEAVY))], capture_output=True, text=True)
    assert "scipy" in out.stderr


#: What a batch worker loads to convert a session of either kind: the task function, the parsed study's
#: types (unpickled), both session converters and the analyses they store.
WORKER_MODULES = (
    "nwb_ketamine.archive.batch",
    "nwb_ketamine.metadata.study",
    "nwb_ketamine.converters.registry",
    "nwb_ketamine.converters.abf",
    "nwb_ketamine.converters.invivo",
    "nwb_ketamine.analysis.store",
    "nwb_ketamine.analysis.burst_store",
    "nwb_ketamine.schema_validation",
)
#: What a conversion never needs: group statistics, and the study file's validating loader (a worker gets
#: the study parsed by the driver).
NOT_FOR_CONVERTING = ("statsmodels", "scipy.stats", "pydantic", "jsonschema")


def test_converting_imports_no_statistics_nor_the_study_loader():
    """A worker's converter modules load neither statsmodels/scipy.stats nor pydantic/jsonschema."""
    probe = (
        "import importlib, json, sys\n"
        f"for name in {WORKER_MODULES!r}: importlib.import_module(name)\n"
        f"print(json.dumps([m for m in {NOT_FOR_CONVERTING!r} if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_lazy_public_names_still_import():
    """The lazily imported public names of ``nwb_ketamine.analysis`` and ``nwb_ketamine.metadata`` resolve."""
    import nwb_ketamine.analysis as analysis
    import nwb_ketamine.metadata as metadata

    for name in analysis.__all__:
        assert callable(getattr(analysis, name)), name
    assert set(analysis.__all__) <= set(dir(analysis))
    from nwb_ketamine.metadata import load_study, validate_study

    assert load_study.__module__ == validate_study.__module__ == "nwb_ketamine.metadata.validate"
    assert all(hasattr(metadata, name) for name in metadata.__all__)
