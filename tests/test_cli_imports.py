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
