"""Files nwb-ketamine writes read with the ndx-drug-stress package alone and with plain pynwb; a value the
extension's constructor refuses (a route outside the vocabulary) reads with a warning, the value kept."""

import json
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest
from pynwb import NWBHDF5IO

from nwb_ketamine.archive.checks import check_administration_terms
from nwb_ketamine.errors import ExtensionValueError
from nwb_ketamine.extension import DrugAdministration, DrugStressWarning

#: Reads every drug & stress object of a file in a fresh interpreter, nwb_ketamine unimportable; with
#: argv[2] == "plain" ndx_drug_stress is unimportable too (the spec cached in the file must be enough).
READER = """
import json, sys, warnings
sys.modules["nwb_ketamine"] = None
if sys.argv[2] == "plain":
    sys.modules["ndx_drug_stress"] = None
else:
    import ndx_drug_stress
    warnings.simplefilter("error", ndx_drug_stress.DrugStressWarning)  # our own files break no check
from pynwb import NWBHDF5IO
with NWBHDF5IO(sys.argv[1], "r", load_namespaces=True) as io:
    m = io.read().lab_meta_data["drug_stress"]
    objects = {**m.drug_administrations, **m.stress_protocols}
    out = {k: {"module": type(v).__module__, "type": type(v).__name__, **{f: getattr(v, f) for f in v.fields}}
           for k, v in objects.items()}
    out["drug_stress"] = {"module": type(m).__module__, "experimental_group": m.experimental_group}
print(json.dumps(out, default=lambda v: v.item()))
"""
TYPES = ("DrugAdministration", "StressProtocol")


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def written_values(path) -> dict:
    """The drug & stress attributes as h5py reads them from the file, by object name."""
    with h5py.File(path, "r") as f:
        group = f["general/drug_stress"]
        found = {"drug_stress": {"experimental_group": group.attrs["experimental_group"]}}
        for name, child in group.items():
            if child.attrs.get("neurodata_type") in TYPES:
                skip = {"namespace", "neurodata_type", "object_id"}
                found[name] = {k: _plain(v) for k, v in child.attrs.items() if k not in skip}
                found[name]["type"] = child.attrs["neurodata_type"]
    return found


def archive_files(archive):
    files = sorted(archive.rglob("*.nwb"))
    assert len(files) >= 3, files  # the tiny study: 2 slice cells and 1 tetrode session
    return files


@pytest.mark.parametrize("reader", ["ndx_drug_stress", "plain"])
def test_archive_files_read_without_nwb_ketamine(tiny_archive, tmp_path, reader):
    """Every file of the tiny archive: each drug and stress value as written, read by the extension's package
    alone (its own classes, no warning) or by plain pynwb (classes generated from the cached spec)."""
    for path in archive_files(tiny_archive):
        result = subprocess.run([sys.executable, "-c", READER, str(path), reader], capture_output=True, text=True,
                                cwd=tmp_path, check=False)  # fmt: skip
        assert result.returncode == 0, f"{path}: {result.stderr[-2000:]}"
        read = json.loads(result.stdout)
        expected = written_values(path)
        assert set(read) == set(expected) and len(expected) >= 3, path  # metadata, >= 1 drug, >= 1 protocol
        for name, values in expected.items():
            module = read[name].pop("module")
            if reader == "plain":
                assert not module.startswith(("ndx_drug_stress", "nwb_ketamine")), (path, name, module)
            elif name != "drug_stress":
                assert module == "ndx_drug_stress.classes", (path, name, module)
            assert {k: v for k, v in read[name].items() if v is not None} == values, (path, name)


def test_a_route_outside_the_vocabulary_reads_with_a_warning(tiny_archive, tmp_path):
    """A file another tool wrote with a route nwb-ketamine's constructor refuses: it opens, with a warning
    naming the file and the field, and the route is read as written; constructing with it raises."""
    source = archive_files(tiny_archive)[0]
    path = shutil.copy(source, tmp_path / source.name)
    with h5py.File(path, "r+") as f:
        group = f["general/drug_stress"]
        name = next(n for n, child in group.items() if child.attrs.get("neurodata_type") == "DrugAdministration")
        group[name].attrs["route"] = "intrathecal-by-another-tool"
    with pytest.warns(DrugStressWarning) as caught, NWBHDF5IO(path, "r") as io:
        administration = io.read().lab_meta_data["drug_stress"].drug_administrations[name]
        assert isinstance(administration, DrugAdministration)
        assert administration.route == "intrathecal-by-another-tool"
        kept = {field: getattr(administration, field) for field in administration.fields}
    messages = [str(w.message) for w in caught if issubclass(w.category, DrugStressWarning)]
    assert len(messages) == 1 and messages[0].startswith(f"{path}: DrugAdministration.route: "), messages
    assert "register_term('route', 'intrathecal-by-another-tool'" in messages[0]
    with pytest.raises(ExtensionValueError, match="'intrathecal-by-another-tool' is not one of intraperitoneal"):
        DrugAdministration(**{k: v for k, v in kept.items() if k != "name"}, name=name)
    report = check_administration_terms(administration)  # what nwb-ketamine validate reports
    assert "route: 'intrathecal-by-another-tool' is not one of" in report.message
