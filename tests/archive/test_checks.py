"""The domain checks on small in-memory objects, and through the nwbinspector command line."""

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from hdmf.common import DynamicTable
from pynwb import NWBHDF5IO, NWBFile
from pynwb.file import Subject
from pynwb.misc import Units

from nwb_ketamine.archive import checks
from nwb_ketamine.extension import DrugAdministration, DrugStressMetadata, StressProtocol

BIN = Path(sys.executable).parent
DrugAdministrationUnchecked = DrugAdministration.__bases__[0]  # pynwb's generated class, without our checks


def administration(name="ketamine", **kwargs) -> DrugAdministration:
    """A timed ketamine injection, with ``kwargs`` replacing its fields.

    Parameters
    ----------
    name
        The object's name.
    **kwargs
        Fields that replace the defaults.
    """
    fields = dict(agent="ketamine", dose=10.0, dose_unit="mg/kg", route="intraperitoneal", role="treatment")
    fields.update(administration_time=-3600.0)
    return DrugAdministration(name=name, **{**fields, **kwargs})


def nwbfile(subject="m1", group="stress-ketamine", paradigm="chronic restraint", administrations=None) -> NWBFile:
    """A small NWB file that passes the domain checks: subject, drug & stress metadata with a timed injection.

    Parameters
    ----------
    subject
        The subject's id.
    group
        The experimental group.
    paradigm
        The stress paradigm.
    administrations
        The drug administrations (default: one timed ketamine injection).
    """
    nwb = NWBFile(
        session_description="test",
        identifier=f"test-{subject}-{group}",
        session_start_time=datetime(2024, 3, 15, 10, tzinfo=UTC),
        session_id="20240315",
    )
    nwb.subject = Subject(subject_id=subject, species="Mus musculus", sex="M", age="P60D", description="test")
    nwb.add_lab_meta_data(
        DrugStressMetadata(
            name="drug_stress",
            experimental_group=group,
            drug_administrations=administrations if administrations is not None else [administration()],
            stress_protocols=[StressProtocol(name="crs", paradigm=paradigm)],
        )
    )
    return nwb


def write(nwb: NWBFile, path: Path) -> Path:
    """Write ``nwb`` to ``path``; return the path.

    Parameters
    ----------
    nwb
        The NWB file.
    path
        Where to write the file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


def add_conditions(nwb: NWBFile, drop=(), **labels) -> None:
    """One sweep through the icephys tables up to a condition row labelled as the converter labels it.

    Parameters
    ----------
    nwb
        The NWB file.
    drop
        Labels to leave out.
    **labels
        Labels that replace the converter's.
    """
    device = nwb.create_device(name="amplifier")
    electrode = nwb.create_icephys_electrode(name="electrode", description="patch", device=device, location="LH")
    from pynwb.icephys import VoltageClampSeries, VoltageClampStimulusSeries

    kwargs = dict(electrode=electrode, rate=10_000.0, gain=1.0, sweep_number=0)
    stimulus = VoltageClampStimulusSeries(name="command", data=np.zeros(10), **kwargs)
    response = VoltageClampSeries(name="current", data=np.zeros(10), **kwargs)
    row = nwb.add_intracellular_recording(electrode=electrode, stimulus=stimulus, response=response)
    simultaneous = nwb.add_icephys_simultaneous_recording(recordings=[row])
    sequential = nwb.add_icephys_sequential_recording(simultaneous_recordings=[simultaneous], stimulus_type="epsc")
    repetition = nwb.add_icephys_repetition(sequential_recordings=[sequential])
    values = dict(
        region="LH",
        experimental_group="stress-ketamine",
        drug="ketamine",
        dose="10 mg/kg",
        stress="chronic restraint",
        hours_since_injection=1.0,
        holding_potential=0.04,
    )
    values.update(labels)
    values = {name: value for name, value in values.items() if name not in drop}
    conditions = nwb.get_icephys_experimental_conditions()
    for name in values:
        conditions.add_column(name=name, description=name)
    nwb.add_icephys_experimental_condition(repetitions=[repetition], **values)


def epsc_sweeps(kinds, holding) -> DynamicTable:
    """An ``epsc_sweeps`` table of sweeps of the given kinds and holding potentials.

    Parameters
    ----------
    kinds
        Each sweep's kind ('AMPA' or 'NMDA').
    holding
        Each sweep's holding potential in volts (NaN: none).
    """
    table = DynamicTable(name="epsc_sweeps", description="sweeps", id=np.arange(len(kinds)))
    table.add_column(name="kind", description="kind", data=list(kinds))
    table.add_column(name="holding_potential_v", description="V", data=np.asarray(holding, dtype=float))
    return table


def parameters(name: str) -> DynamicTable:
    """An empty parameters table named ``name``.

    Parameters
    ----------
    name
        The table's name.
    """
    return DynamicTable(name=name, description="parameters")


# --- drug administrations ---------------------------------------------------------------------------


def test_amounts_with_units_pass():
    """Amounts with units pass."""
    assert checks.check_drug_administration_amount(administration()) is None
    bath = administration(
        "nbqx", agent="NBQX", dose=None, dose_unit=None, concentration=10.0, concentration_unit="uM", route="bath"
    )
    assert checks.check_drug_administration_amount(bath) is None


def test_a_dose_without_unit_is_reported():
    """A dose without unit is reported."""
    adm = DrugAdministrationUnchecked(name="k", agent="ketamine", dose=10.0, route="intraperitoneal", role="treatment")
    message = checks.check_drug_administration_amount(adm)
    assert "dose 10 has no unit; set dose_unit" in message.message


def test_no_amount_at_all_is_reported():
    """No amount at all is reported."""
    adm = DrugAdministrationUnchecked(name="k", agent="ketamine", route="intraperitoneal", role="treatment")
    assert "no dose, concentration or volume" in checks.check_drug_administration_amount(adm).message


def test_a_volume_alone_is_an_amount_only_for_a_vehicle():
    """A volume alone is an amount only for a vehicle."""
    kwargs = dict(agent="saline", volume=10.0, volume_unit="mL/kg", route="intraperitoneal")
    assert (
        checks.check_drug_administration_amount(DrugAdministration(name="v", role="vehicle control", **kwargs)) is None
    )
    message = checks.check_drug_administration_amount(DrugAdministration(name="v", role="treatment", **kwargs))
    assert "only a volume is given but the role is 'treatment'" in message.message


def test_terms_outside_the_vocabulary_are_reported():
    """A route, role or paradigm outside the vocabulary (read from a file, where it only warns) is reported."""
    assert checks.check_administration_terms(administration()) is None
    adm = DrugAdministrationUnchecked(name="k", agent="ketamine", dose=1.0, dose_unit="mg/kg", route="ip", role="x")
    message = checks.check_administration_terms(adm).message
    assert message.startswith("DrugAdministration 'k': DrugAdministration.route: 'ip' is not one of intraperitoneal")
    assert "DrugAdministration.role: 'x' is not one of treatment" in message and "register_term('role', 'x'" in message
    assert checks.check_stress_terms(StressProtocol(name="s", paradigm="none")) is None
    protocol = StressProtocol.__bases__[0](name="s", paradigm="tickling")
    assert "StressProtocol.paradigm: 'tickling' is not one of none" in checks.check_stress_terms(protocol).message


# --- regions ----------------------------------------------------------------------------------------


def test_icephys_electrode_location_must_be_a_ccf_acronym():
    """An intracellular electrode's location must be a CCF acronym."""
    nwb = nwbfile()
    device = nwb.create_device(name="amp")
    good = nwb.create_icephys_electrode(name="e1", description="", device=device, location="LH")
    bad = nwb.create_icephys_electrode(name="e2", description="", device=device, location="LHb")
    assert checks.check_intracellular_electrode_region(good) is None
    message = checks.check_intracellular_electrode_region(bad).message
    assert "IntracellularElectrode 'e2': location 'LHb' is not" in message
    assert "use one of LH, MH" in message


@pytest.mark.parametrize(
    ("species", "reported"),
    [
        ("Mus musculus", False),
        ("Rattus norvegicus", False),
        ("http://purl.obolibrary.org/obo/NCBITaxon_10090", False),
        ("Mus mus", True),  # dandi would read it as Mus musculus by the genus prefix
        ("Peromyscus maniculatus", True),  # a real species outside dandi's offline map: give the IRI
    ],
)
def test_a_species_name_must_be_one_dandi_knows(species, reported):
    subject = Subject(subject_id="m1", species=species, sex="M", age="P60D")
    message = checks.check_subject_species_known_to_dandi(subject)
    assert (message is not None) is reported
    if reported:
        assert f"species {species!r} is not one DANDI knows" in message.message


def test_electrode_group_location_ccf_or_unknown():
    """An electrode group's location is a CCF acronym or 'unknown'."""
    nwb = nwbfile()
    device = nwb.create_device(name="drive")
    make = lambda name, location: nwb.create_electrode_group(  # noqa: E731
        name=name, description="", location=location, device=device
    )
    assert checks.check_electrode_group_region(make("t0", "CA1")) is None
    assert checks.check_electrode_group_region(make("t1", "unknown")) is None
    assert "'hippocampus'" in checks.check_electrode_group_region(make("t2", "hippocampus")).message


def test_units_brain_area_from_the_ccf():
    """The units' brain_area values come from the CCF."""
    units = Units(name="units")
    units.add_column(name="brain_area", description="area")
    units.add_unit(spike_times=[0.1], brain_area="LH")
    units.add_unit(spike_times=[0.2], brain_area="habenula")
    assert "'habenula'" in checks.check_units_brain_area(units).message


# --- conditions, holding potentials, injection time, parameters --------------------------------------


def test_labelled_conditions_pass():
    """Labelled conditions pass."""
    nwb = nwbfile()
    add_conditions(nwb)
    assert checks.check_experimental_conditions(nwb.icephys_experimental_conditions) is None


def test_missing_and_empty_condition_labels_are_reported():
    """Missing and empty condition labels are reported."""
    nwb = nwbfile()
    add_conditions(nwb, stress="", region="LHb")
    messages = [m.message for m in checks.check_experimental_conditions(nwb.icephys_experimental_conditions)]
    assert len(messages) == 2
    assert "experimental_conditions rows [0] have no 'stress' label." in messages
    assert any("region labels 'LHb'" in m for m in messages)

    nwb = nwbfile()
    add_conditions(nwb, drop=("holding_potential",))
    messages = [m.message for m in checks.check_experimental_conditions(nwb.icephys_experimental_conditions)]
    assert messages == [
        "experimental_conditions has no column holding_potential; every condition row must be labelled with "
        "region, drug, dose, stress, hours_since_injection, holding_potential."
    ]


def test_nmda_sweeps_need_a_holding_potential():
    """NMDA sweeps need a holding potential."""
    assert checks.check_nmda_holding_potential(epsc_sweeps(["AMPA", "NMDA"], [-0.07, 0.04])) is None
    message = checks.check_nmda_holding_potential(epsc_sweeps(["AMPA", "NMDA", "NMDA"], [-0.07, np.nan, 0.04]))
    assert message.message == "epsc_sweeps: NMDA sweeps (rows [1]) have no holding_potential_v."


def test_post_injection_data_needs_an_injection_time():
    """Post-injection data needs an injection time."""
    nwb = nwbfile(administrations=[administration(administration_time=None)])
    assert checks.check_injection_time(nwb) is None  # no post-injection data
    nwb.add_epoch(start_time=0.0, stop_time=1.0, tags=["baseline"])
    nwb.add_epoch(start_time=1.0, stop_time=2.0, tags=["post-injection"])
    message = checks.check_injection_time(nwb).message
    assert "epoch tag 'post-injection'" in message and "(ketamine) have no administration_time" in message
    timed = nwbfile()
    timed.add_epoch(start_time=1.0, stop_time=2.0, tags=["post-injection"])
    assert checks.check_injection_time(timed) is None


def test_hours_since_injection_without_injection_is_reported():
    """Hours since injection without an injection are reported."""
    nwb = nwbfile(administrations=[administration("nbqx", agent="NBQX", route="bath", administration_time=60.0)])
    add_conditions(nwb)
    message = checks.check_injection_time(nwb).message
    assert "hours_since_injection 1" in message and "no in vivo DrugAdministration" in message


def test_results_need_their_parameters():
    """Results need their parameters."""
    nwb = nwbfile()
    icephys = nwb.create_processing_module(name="icephys", description="")
    icephys.add(epsc_sweeps(["NMDA"], [0.04]))
    icephys.add(DynamicTable(name="epsc_cell", description=""))
    ecephys = nwb.create_processing_module(name="ecephys", description="")
    ecephys.add(DynamicTable(name="burst_metrics", description=""))
    assert [m.message for m in checks.check_analysis_parameters(icephys)] == [
        "processing/icephys/epsc_cell has no epsc_parameters table next to it; store the analysis parameters "
        "with the results."
    ]
    assert "burst_parameters" in checks.check_analysis_parameters(ecephys)[0].message
    icephys.add(parameters("epsc_parameters"))
    ecephys.add(parameters("burst_parameters"))
    assert checks.check_analysis_parameters(icephys) is None and checks.check_analysis_parameters(ecephys) is None


def test_every_check_has_a_fix():
    """Every check has a fix."""
    names = {name for name in dir(checks) if name.startswith("check_")}
    assert names == set(checks.FIXES)


def test_condition_labels_are_ones_the_converter_writes():
    """Condition labels are ones the converter writes."""
    abf = pytest.importorskip("nwb_ketamine.converters.abf")
    assert set(checks.CONDITION_LABELS) <= set(abf.AbfSliceConverter.CONDITION_COLUMNS)


# --- through the nwbinspector command line ------------------------------------------------------------


def test_nwbinspector_command_line_runs_our_checks(tmp_path):
    """The ``nwbinspector`` command line runs our checks.

    Parameters
    ----------
    tmp_path
        A fresh temporary folder.
    """
    nwb = nwbfile(administrations=[administration(administration_time=None)])
    nwb.add_epoch(start_time=1.0, stop_time=2.0, tags=["post-injection"])
    icephys = nwb.create_processing_module(name="icephys", description="analysis")
    icephys.add(epsc_sweeps(["NMDA"], [np.nan]))
    path = write(nwb, tmp_path / "broken.nwb")
    command = [str(BIN / "nwbinspector"), "--modules", "nwb_ketamine.archive.checks", "--config", "dandi", str(path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, env={**os.environ, "NO_ET": "1"})
    for name in ("check_injection_time", "check_nmda_holding_potential", "check_analysis_parameters"):
        assert name in result.stdout, result.stdout + result.stderr
    without = subprocess.run(command[:1] + command[3:], capture_output=True, text=True, timeout=120)
    assert "check_injection_time" not in without.stdout
