"""Values the constructor refuses still read: a warning naming the file and field, the value kept."""

import warnings
from datetime import datetime, timezone

import h5py
import pytest
from pynwb import NWBHDF5IO, NWBFile

from ndx_drug_stress import (
    DrugAdministration,
    DrugStressMetadata,
    DrugStressValueError,
    DrugStressWarning,
    StressProtocol,
)

ADMINISTRATION = "general/drug_stress/ketamine"
PROTOCOL = "general/drug_stress/crs"


@pytest.fixture
def written(tmp_path):
    nwb = NWBFile(session_description="test", identifier="read-checks",
                  session_start_time=datetime(2024, 2, 15, tzinfo=timezone.utc))  # fmt: skip
    ketamine = DrugAdministration(name="ketamine", agent="ketamine", dose=10.0, dose_unit="mg/kg",
                                  route="intraperitoneal", role="treatment")  # fmt: skip
    crs = StressProtocol(name="crs", paradigm="chronic restraint", number_of_days=14)
    nwb.add_lab_meta_data(DrugStressMetadata(name="drug_stress", experimental_group="g",
                                             drug_administrations=[ketamine], stress_protocols=[crs]))  # fmt: skip
    path = tmp_path / "other-tool.nwb"
    with NWBHDF5IO(path, "w") as io:
        io.write(nwb)
    return path


def set_attributes(path, obj, **attributes):
    """Another tool's values, written into the file's HDF5 attributes (no constructor check runs)."""
    with h5py.File(path, "r+") as f:
        for key, value in attributes.items():
            if value is None:
                del f[obj].attrs[key]
            else:
                f[obj].attrs[key] = value


def read(path):
    with NWBHDF5IO(path, "r") as io:
        metadata = io.read().lab_meta_data["drug_stress"]
        return metadata.drug_administrations["ketamine"], metadata.stress_protocols["crs"]


def test_an_unknown_route_reads_with_a_warning_and_its_value(written):
    set_attributes(written, ADMINISTRATION, route="intrathecal-y")
    with pytest.warns(DrugStressWarning) as caught:
        adm, _ = read(written)
    assert adm.route == "intrathecal-y" and type(adm) is DrugAdministration
    (message,) = [str(w.message) for w in caught if issubclass(w.category, DrugStressWarning)]
    assert message.startswith(f"{written}: DrugAdministration.route: 'intrathecal-y' is not one of")
    assert "register_term('route', 'intrathecal-y'" in message and message.endswith("(read as it is)")
    with pytest.raises(DrugStressValueError, match="'intrathecal-y' is not one of"):
        DrugAdministration(name="x", agent="x", dose=1.0, dose_unit="mg/kg", route=adm.route, role="treatment")


def test_every_refused_value_reads(written):
    set_attributes(written, ADMINISTRATION, role="drug", dose=-1.0, dose_unit=None)
    set_attributes(written, PROTOCOL, paradigm="tickling", number_of_days=-3)
    with pytest.warns(DrugStressWarning) as caught:
        adm, protocol = read(written)
    messages = " | ".join(str(w.message) for w in caught if issubclass(w.category, DrugStressWarning))
    for part in ("DrugAdministration.role: 'drug'", "DrugAdministration.dose: -1.0 is negative",
                 "StressProtocol.paradigm: 'tickling'", "StressProtocol.number_of_days: -3 is negative"):  # fmt: skip
        assert part in messages
    assert (adm.role, adm.dose, adm.dose_unit) == ("drug", -1.0, None)
    assert (protocol.paradigm, protocol.number_of_days) == ("tickling", -3)


def test_a_fixed_file_reads_without_warning(written):
    set_attributes(written, ADMINISTRATION, route="ip")
    with pytest.warns(DrugStressWarning):
        read(written)
    set_attributes(written, ADMINISTRATION, route="intraperitoneal")  # the fix the README shows
    with warnings.catch_warnings():
        warnings.simplefilter("error", DrugStressWarning)
        adm, _ = read(written)
    assert adm.route == "intraperitoneal"


def test_the_warning_names_the_file_when_read_from_a_file_object(written):
    """Read as a remote reader does (h5py over a Python file object): the warning still names the path."""
    set_attributes(written, ADMINISTRATION, route="ip")
    with (
        open(written, "rb") as raw,
        h5py.File(raw, "r") as f,
        NWBHDF5IO(file=f) as io,
        pytest.warns(DrugStressWarning) as caught,
    ):
        io.read()
    (message,) = [str(w.message) for w in caught if issubclass(w.category, DrugStressWarning)]
    assert message.startswith(f"{written}: DrugAdministration.route: 'ip'"), message
