"""validate_archive on a clean tiny simulated archive and on an archive of files that each break one rule."""

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from nwb_ketamine.archive.findings import SEVERITIES, Finding, ValidationReport
from nwb_ketamine.archive.validate import validate_archive
from tests.archive.test_checks import (
    add_conditions,
    administration,
    epsc_sweeps,
    nwbfile,
    write,
)

DANDISET = {
    "identifier": "DANDI:000000",
    "name": "Tiny simulated ketamine study",
    "description": "Simulated slice patch-clamp and in vivo tetrode recordings.",
    "license": ["spdx:CC-BY-4.0"],
    "contributor": [
        {
            "name": "Doe, Jane",
            "email": "jane.doe@example.org",
            "roleName": ["dcite:ContactPerson"],
            "schemaKey": "Person",
        }
    ],
}


def write_dandiset_yaml(archive: Path) -> None:
    """Write a valid ``dandiset.yaml`` into ``archive``.

    Parameters
    ----------
    archive
        The archive root.
    """
    archive.mkdir(parents=True, exist_ok=True)
    (archive / "dandiset.yaml").write_text(yaml.safe_dump(DANDISET))


@pytest.fixture(scope="session")
def tiny_archive(tmp_path_factory, simulated_tiny) -> Path:
    """The shared tiny simulated study converted without raw data into the DANDI layout, as convert writes it.

    This module's own archive, not the shared one of tests/conftest.py.

    Parameters
    ----------
    tmp_path_factory
        pytest's factory of temporary folders.
    simulated_tiny
        The study file of the shared tiny simulated study.
    """
    from nwb_ketamine.converters.abf import AbfSliceConverter
    from nwb_ketamine.converters.invivo import InVivoConverter
    from nwb_ketamine.metadata import load_study

    archive = tmp_path_factory.mktemp("tiny") / "archive"
    study = load_study(simulated_tiny)
    for s in study.slice_sessions:
        path = archive / f"sub-{s.subject}" / f"{s.key}_icephys.nwb"
        path.parent.mkdir(parents=True, exist_ok=True)
        AbfSliceConverter(study, s).run_conversion(path)
    for s in study.invivo_sessions:
        path = archive / f"sub-{s.subject}" / f"{s.key}_ecephys.nwb"
        path.parent.mkdir(parents=True, exist_ok=True)
        InVivoConverter(study, s, include_raw=False).run_conversion(path)
    write_dandiset_yaml(archive)
    return archive


@pytest.fixture(scope="session")
def tiny_report(tiny_archive) -> ValidationReport:
    """The validation report of the tiny archive.

    Parameters
    ----------
    tiny_archive
        The tiny archive in the DANDI layout.
    """
    return validate_archive(tiny_archive, progress=False)


@pytest.fixture(scope="session")
def broken_report(tmp_path_factory) -> ValidationReport:
    """One archive whose files each break one rule (named by their subject).

    Parameters
    ----------
    tmp_path_factory
        pytest's factory of temporary folders.
    """
    archive = tmp_path_factory.mktemp("broken") / "archive"
    write_dandiset_yaml(archive)

    nwb = nwbfile("injtime", administrations=[administration(administration_time=None)])
    nwb.add_epoch(start_time=0.0, stop_time=1.0, tags=["post-injection"])
    write(nwb, archive / "sub-injtime/sub-injtime_ses-1_ecephys.nwb")

    nwb = nwbfile("nmda")
    nwb.create_processing_module(name="icephys", description="analysis").add(epsc_sweeps(["NMDA"], [np.nan]))
    write(nwb, archive / "sub-nmda/sub-nmda_ses-1_icephys.nwb")

    path = write(nwbfile("dose"), archive / "sub-dose/sub-dose_ses-1_icephys.nwb")
    with h5py.File(path, "r+") as f:  # as another tool might write it: a dose without its unit
        del f["general/drug_stress/ketamine"].attrs["dose_unit"]

    nwb = nwbfile("region")
    add_conditions(nwb, region="LHb")
    write(nwb, archive / "sub-region/sub-region_ses-1_slice-s1_cell-c1_icephys.nwb")

    write(nwbfile("twice", group="control"), archive / "sub-twice/sub-twice_ses-1_icephys.nwb")
    write(nwbfile("twice", group="stress-ketamine"), archive / "sub-twice/sub-twice_ses-2_icephys.nwb")
    write(nwbfile("name"), archive / "sub-name/recording of cell 1.nwb")
    return validate_archive(archive, progress=False)


def findings(report: ValidationReport, file_start: str) -> list[Finding]:
    """The findings of ``report`` in the files whose path starts with ``file_start``.

    Parameters
    ----------
    report
        A validation report.
    file_start
        The start of the files' paths.
    """
    return [f for f in report.findings if f.file.startswith(file_start)]


def test_the_tiny_archive_has_no_errors(tiny_report):
    """The tiny archive has no errors.

    Parameters
    ----------
    tiny_report
        The validation report of the tiny archive.
    """
    assert len(tiny_report.files) == 3
    assert not tiny_report.has_errors, tiny_report.summary()
    assert {f.severity for f in tiny_report.findings} <= {"BEST_PRACTICE_VIOLATION", "BEST_PRACTICE_SUGGESTION"}
    assert "PASSED" in tiny_report.summary().splitlines()[0]


@pytest.mark.slow
def test_dandi_validate_itself_passes_offline(tiny_archive):
    """``dandi validate`` itself passes, offline.

    Parameters
    ----------
    tiny_archive
        The tiny archive in the DANDI layout.
    """
    env = {**os.environ, "NO_ET": "1", "DANDI_NO_ET": "1"}
    dandi = Path(sys.executable).parent / "dandi"
    result = subprocess.run(
        [str(dandi), "validate", str(tiny_archive)], capture_output=True, text=True, timeout=300, env=env
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No errors found" in result.stdout


def test_each_domain_rule_fires_on_its_broken_file(broken_report):
    """Each domain rule fires on its broken file.

    Parameters
    ----------
    broken_report
        The validation report of the archive of broken files.
    """

    def one(subject, check):
        """The first finding of ``check`` in the broken file of ``subject``.

        Parameters
        ----------
        subject
            The subject whose file breaks the rule.
        check
            The check's name.
        """
        found = [f for f in findings(broken_report, f"sub-{subject}/") if f.check == check]
        assert found, broken_report.summary()
        return found[0]

    f = one("injtime", "check_injection_time")
    assert (f.severity, f.source, f.object_path) == ("CRITICAL", "nwb-ketamine", "/")
    assert "post-injection data (epoch tag 'post-injection')" in f.message and "injection.time" in f.fix

    f = one("nmda", "check_nmda_holding_potential")
    assert f.object_path == "/processing/icephys/epsc_sweeps"
    assert f.message == "epsc_sweeps: NMDA sweeps (rows [0]) have no holding_potential_v."
    assert "processing/icephys/epsc_sweeps has no epsc_parameters" in one("nmda", "check_analysis_parameters").message

    f = one("region", "check_experimental_conditions")
    assert f.object_path == "/general/intracellular_ephys/experimental_conditions"
    assert "region labels 'LHb'" in f.message

    # ndx-drug-stress refuses a dose without unit on construction but reads it, with a warning: the check reports it
    f = one("dose", "check_drug_administration_amount")
    assert f.severity == "CRITICAL" and "set dose_unit" in f.message
    assert not [f for f in findings(broken_report, "sub-dose/") if f.check == "read"]


def test_rules_across_files(broken_report):
    """The rules across files fire.

    Parameters
    ----------
    broken_report
        The validation report of the archive of broken files.
    """
    consistency = [f for f in findings(broken_report, "sub-twice/") if f.check == "check_archive_consistency"]
    found = [f for f in consistency if "Subject's group" in f.message]
    assert len(found) == 1
    assert found[0].file == "sub-twice/sub-twice_ses-2_icephys.nwb"
    assert "Subject's group 'twice' is 'stress-ketamine' here but 'control' in sub-twice/" in found[0].message
    # the dose without unit (readable now) makes the drug id 'ketamine' mean two amounts across the archive
    drug = [f for f in consistency if f.message.startswith("Drug 'ketamine'")]
    assert drug and "'10 (no unit) of ketamine intraperitoneal' in sub-dose/" in drug[0].message


def test_a_bad_file_name_is_a_dandi_layout_error(broken_report):
    """A bad file name is a DANDI layout error.

    Parameters
    ----------
    broken_report
        The validation report of the archive of broken files.
    """
    found = [f for f in findings(broken_report, "sub-name/") if f.source == "dandi"]
    assert [f.check for f in found] == ["DANDI.NON_DANDI_FILENAME"]
    assert found[0].severity == "ERROR" and "sub-<subject>/sub-<subject>_ses-<session>" in found[0].fix
    clean = [f for f in broken_report.findings if f.source == "dandi" and not f.file.startswith("sub-name/")]
    # While the extension refuses to construct a dose without its unit on read, pynwb (so dandi upload)
    # cannot read that file at all; once it reads such a file with a warning, the finding goes.
    unreadable = [(f.file, f.check) for f in clean if "DrugAdministration.dose: 10.0 has no unit" in f.message]
    assert unreadable in ([], [("sub-dose/sub-dose_ses-1_icephys.nwb", "DANDI.METADATA_EXTRACTION")])
    assert len(clean) == len(unreadable), clean


def test_summary_groups_by_severity_and_json_round_trips(broken_report, tmp_path):
    """The summary groups by severity, and the JSON round-trips.

    Parameters
    ----------
    broken_report
        The validation report of the archive of broken files.
    tmp_path
        A fresh temporary folder.
    """
    assert broken_report.has_errors
    text = broken_report.summary()
    assert text.splitlines()[0].endswith("FAILED")
    headings = [line.split(" (")[0] for line in text.splitlines() if line and line.split(" (")[0] in SEVERITIES]
    assert headings == [s for s in SEVERITIES if broken_report.counts()[s]]
    path = tmp_path / "report.json"
    path.write_text(json.dumps(broken_report.to_json()))
    data = json.loads(path.read_text())
    assert data["has_errors"] is True and data["counts"] == broken_report.counts()
    assert ValidationReport.from_json(data) == broken_report


def test_a_missing_dandiset_yaml_is_reported(tmp_path):
    """A missing ``dandiset.yaml`` is reported.

    Parameters
    ----------
    tmp_path
        A fresh temporary folder.
    """
    write(nwbfile("m1"), tmp_path / "sub-m1/sub-m1_ses-1_ecephys.nwb")
    report = validate_archive(tmp_path, progress=False)
    assert [f.check for f in report.findings if f.severity in ("CRITICAL", "ERROR")] == ["DANDI.NO_DANDISET_FOUND"]


def test_not_a_folder_is_a_user_error(tmp_path):
    """An archive that is not a folder is a user error.

    Parameters
    ----------
    tmp_path
        A fresh temporary folder.
    """
    from nwb_ketamine.errors import NwbKetamineError

    with pytest.raises(NwbKetamineError, match="not a folder"):
        validate_archive(tmp_path / "missing", progress=False)
