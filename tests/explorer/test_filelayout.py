"""Every object path and column the readers use, built from nwb_ketamine.filelayout, is in a converted archive.

Writers and readers both take these names from the layout module; this test ties the module to real files
(the simulated tiny archive: slice cells and an in vivo session), so a writer that drifts from the layout
fails here and not silently in a reader.
"""

import h5py
import numpy as np
import pytest

from nwb_ketamine import filelayout as layout
from nwb_ketamine.analysis.bursts import METRICS
from nwb_ketamine.archive.catalog import load_catalog
from nwb_ketamine.explorer import h5tables, nwbfiles
from tests.explorer import pynwb_reference


def _columns(table) -> set[str]:
    return set(table.attrs["colnames"])


def _files(archive, pattern):
    files = sorted(archive.rglob(pattern))
    assert files, f"no {pattern} in {archive}"
    return files


def test_slice_cell_files_hold_every_path_and_column(tiny_archive):
    for path in _files(tiny_archive, "*_icephys.nwb"):
        with h5py.File(path, "r") as f:
            assert layout.DRUG_STRESS_PATH in f
            assert set(layout.SWEEP_COLUMNS) <= _columns(f[layout.EPSC_SWEEPS_PATH])
            assert set(layout.CELL_DESCRIPTIONS) <= _columns(f[layout.EPSC_CELL_PATH])
            assert len(f[layout.EPSC_PARAMETERS_PATH]["id"]) > 0


def test_invivo_files_hold_every_path_and_column(tiny_archive):
    for path in _files(tiny_archive, "*_ecephys.nwb"):
        with h5py.File(path, "r") as f:
            assert layout.DRUG_STRESS_PATH in f and layout.EPOCHS_PATH in f
            assert set(layout.ELECTRODE_COLUMNS) <= _columns(f[layout.ELECTRODES_PATH])
            assert set(layout.UNIT_COLUMNS) <= _columns(f[layout.UNITS_PATH])
            assert {*layout.BURST_METRICS_KEYS, *METRICS} <= _columns(f[layout.BURST_METRICS_PATH])
            for parameters in (layout.BURST_PARAMETERS_PATH, layout.UNITS_PARAMETERS_PATH):
                assert len(f[parameters]["id"]) > 0
            segments = f.get(f"/intervals/{layout.RECORDING_SEGMENTS}")
            if segments is None:  # a sorting-only session: no raw series, no events
                assert not len(f.get("acquisition", {}))
                continue
            assert sorted(f["acquisition"]) == layout.raw_series_names(len(segments["id"]))
            assert all(name.startswith(layout.EVENTS_PREFIX) for name in f[layout.EVENTS_PATH])


def test_one_injection_rule_for_catalog_explorer_and_pynwb_readers(tiny_archive):
    sessions = load_catalog(tiny_archive)["sessions"].set_index("file")
    for path in _files(tiny_archive, "*.nwb"):
        with h5py.File(path, "r") as f:
            group = f[layout.DRUG_STRESS_PATH]
            administrations = [
                {k: (v.decode() if isinstance(v, bytes) else v) for k, v in child.attrs.items()}
                for child in group.values()
                if child.attrs.get("neurodata_type") in ("DrugAdministration", b"DrugAdministration")
            ]
        adm = layout.the_injection(administrations)
        expected = float(adm["administration_time"]) if adm is not None else None
        time, label = h5tables.injection(nwbfiles.open_h5(path))
        assert time == expected and label == layout.injection_label(adm if expected is not None else None)
        nwbfile = nwbfiles.open_nwb(path)
        assert pynwb_reference.injection_time_s(nwbfile) == expected
        catalogued = sessions.loc[str(path.relative_to(tiny_archive)), "injection_time_s"]
        assert (np.isnan(catalogued) and expected is None) or catalogued == pytest.approx(expected)


def test_the_injection_prefers_treatment_over_earlier_premedication_and_ignores_bath():
    administrations = [
        {"agent": "AP5", "route": "bath", "role": "treatment", "administration_time": -100.0},
        {"agent": "isoflurane", "route": "inhalation", "role": "anaesthesia", "administration_time": -50.0},
        {"agent": "ketamine", "route": "i.p.", "role": "treatment", "administration_time": 600.0, "dose": 10.0,
         "dose_unit": "mg/kg"},
    ]  # fmt: skip
    adm = layout.the_injection(administrations)
    assert adm["agent"] == "ketamine" and layout.injection_label(adm) == "ketamine 10 mg/kg"
    assert layout.the_injection(administrations[:1]) is None
    assert layout.the_injection(administrations[1:2])["agent"] == "isoflurane"  # the only in vivo one
