"""The methods paragraph (issue 13): every number from the stored parameters and the rows, with and without the
study's methods metadata columns; its Markdown export."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from nwb_ketamine import __version__
from nwb_ketamine.explorer.compare import CompareView
from nwb_ketamine.explorer.methods import CELL_METHODS_COLUMNS, UNIT_METHODS_COLUMNS, methods_markdown, number
from nwb_ketamine.explorer.paired import PairedView
from nwb_ketamine.explorer.timecourse import TimeCourseView


def _view(store, **params) -> CompareView:
    """A compare view over every cell and unit of the store (no stress filter, QC off)."""
    return CompareView(store, filter_stress=[], accepted_only=False, **params)


def test_the_paragraph_states_the_stored_parameters_counts_and_version(store):
    text = _view(store).methods_text()
    epsc = json.loads(store.cells["epsc_parameters"].iloc[0])
    bursts = json.loads(store.units["burst_parameters"].iloc[0])
    units = json.loads(store.units["analysis_parameters"].iloc[0])["units"]
    expected = [
        f"AMPAR-EPSCs were recorded at {number(epsc['ampa_holding_v'] * 1e3)} mV",
        f"NMDAR-EPSCs at +{number(epsc['nmda_holding_v'] * 1e3)} mV",
        f"at most {number(units['max_waveform_spikes'])} spikes per unit",  # the tiny archive has raw data
        f"over the {number(epsc['baseline_window_s'] * 1e3)} ms before the stimulus",
        f"AMPAR-EPSC peak was searched up to {number(epsc['ampa_peak_end_s'] * 1e3)} ms",
        f"NMDAR-EPSC peak up to {number(epsc['nmda_peak_end_s'] * 1e3)} ms",
        f"centred {number(epsc['nmda_latency_s'] * 1e3)} ms after",
        f"below {number(epsc['decay_fit_start_fraction'] * 100)} %",
        f"exceeded {number(epsc['rs_max_ohm'] * 1e-6)} MΩ",
        f"more than {number(epsc['rs_change_max'] * 100)} %",
        f"at least {number(epsc['min_accepted_sweeps'])} accepted sweeps",
        f"within {number(bursts['onset_isi_s'] * 1e3)} ms by the next",
        f"at least {number(bursts['min_silence_s'] * 1e3)} ms without spikes",
        f"at least {number(bursts['min_spikes'])} spikes",
        f"shorter than {number(units['refractory_period_s'] * 1e3)} ms",
        f"Analysis by nwb-ketamine {__version__}",
        "Mann–Whitney U",
        "Holm–Bonferroni",
    ]
    for piece in expected:
        assert piece in text, piece
    n_cells, n_units = store.cells["cell_key"].nunique(), store.units["unit_key"].nunique()
    n_cell_animals, n_unit_animals = store.cells["subject"].nunique(), store.units["subject"].nunique()
    assert f"{n_cells} cells from {n_cell_animals} animals" in text  # 2 cells, 2 animals
    assert f"{n_units} units from {n_unit_animals} animal" in text  # one in vivo animal
    assert "mixed model" not in text.lower()  # fitted only on demand, said only then
    assert "MixedLM" in _view(store, mixed_model=True).methods_text()
    assert "Fisher's exact" not in text  # a cell measure: no bursting-units table
    units_text = _view(store, measure="firing_rate").methods_text()
    assert "Fisher's exact" in units_text and "with each unit as an observation" in units_text
    assert "at least one burst starts in the epoch (n_bursts ≥ 1" in units_text
    # the methods the simulated study file gives, as the catalog carries them from the files
    from nwb_ketamine.simulate.study_file import IMPLANT, SLICE_METHODS

    for piece in (
        f"Slices {SLICE_METHODS['slice_thickness_um']} µm thick were prepared",
        f"The internal solution was {SLICE_METHODS['internal_solution']}",
        f"at {SLICE_METHODS['recording_temperature_c']} °C",
        "extracellular stimulation in stria medullaris",
    ):
        assert piece in text, piece
    implant = f"AP {IMPLANT['ap_mm']} mm, ML {IMPLANT['ml_mm']} mm, DV {IMPLANT['dv_mm']} mm ({IMPLANT['atlas']})"
    assert implant in units_text


def test_sample_sizes_per_group_follow_the_filters(store):
    view = _view(store)
    text = view.methods_text()
    frames = view.methods_rows()
    for _, row in (
        frames["cells"]
        .groupby(["region", "drug", "time_group"])
        .agg(n=("key", "nunique"), a=("subject", "nunique"))
        .reset_index()
        .iterrows()
    ):
        assert f"| {row['region']} | {row['drug']} | {row['time_group']} | {row['n']} | {row['a']} |" in text
    drug = str(frames["cells"]["drug"].iloc[0])
    view.filter_drug = [drug]
    kept = view.methods_rows()["cells"]
    assert set(kept["drug"]) == {drug}
    n, animals = kept["key"].nunique(), kept["subject"].nunique()
    expected = f"{n} cell{'s' if n != 1 else ''} from {animals} animal{'s' if animals != 1 else ''}"
    assert expected in view.methods_text()


def _with_methods_columns(store):
    cells, units = store.cells.copy(), store.units.copy()
    cells["internal_solution"] = "Cs-methanesulfonate based (mM: 130 CsMeSO3)"
    cells["slice_thickness_um"] = 300.0
    cells["slice_preparation"] = "NMDG cutting solution at 0 °C, recovery 30 min at 34 °C"
    cells["recording_solution"] = "ACSF with 100 µM picrotoxin"
    cells["recording_temperature_c"] = 31.5
    cells["stimulation_site"] = "stria medullaris"
    units["implant_ap_mm"], units["implant_ml_mm"], units["implant_dv_mm"] = -1.72, 0.46, -2.61
    units["implant_atlas"] = "Paxinos and Franklin 2019"
    return cells, units


def test_the_methods_metadata_columns_are_used_when_present(store):
    cells, units = _with_methods_columns(store)
    text = methods_markdown(cells, units, sessions=store.sessions, contrast="drug", control="saline")
    for piece in (
        "Slices 300 µm thick were prepared (NMDG cutting solution at 0 °C, recovery 30 min at 34 °C).",
        "Recordings were made in ACSF with 100 µM picrotoxin at 31.5 °C.",
        "The internal solution was Cs-methanesulfonate based (mM: 130 CsMeSO3).",
        "EPSCs were evoked by extracellular stimulation in stria medullaris.",
        "AP -1.72 mm, ML 0.46 mm, DV -2.61 mm (Paxinos and Franklin 2019).",
        "with the control (saline)",
    ):
        assert piece in text, piece
    # the same columns, empty (the study file omits them): no sentence, no placeholder
    blank_cells = cells.assign(**{c: ("" if cells[c].dtype == object else np.nan) for c in CELL_METHODS_COLUMNS})
    blank_units = units.assign(**{c: ("" if units[c].dtype == object else np.nan) for c in UNIT_METHODS_COLUMNS})
    blank = methods_markdown(blank_cells, blank_units)
    assert "µm" not in blank and "Tetrodes were implanted" not in blank and "nan" not in blank
    assert "°C" not in blank.split("**In vivo")[0].split("Slice electrophysiology.**")[1].split("AMPAR")[0]


def test_parameters_that_differ_between_files_are_all_stated():
    from nwb_ketamine.analysis.epsc_parameters import EpscParameters

    protocol = dict(
        stimulus_time_s=0.3, test_pulse_start_s=0.05, test_pulse_duration_s=0.1, test_pulse_amplitude_v=-0.005
    )

    def cell(file, baseline):
        rows = EpscParameters(**protocol, baseline_window_s=baseline).rows()
        parameters = {"epsc": {name: value for name, value, *_ in rows}}
        return {"cell_key": file, "subject": "m1", "file": file, "analysis_parameters": json.dumps(parameters)}

    cells = pd.DataFrame([cell("a.nwb", 0.01), cell("b.nwb", 0.02), cell("c.nwb", 0.01)])
    text = methods_markdown(cells, pd.DataFrame())
    assert "over the 10 ms or 20 ms (differs between files) before the stimulus" in text
    assert "the stimulus 300 ms after the start of each sweep" in text
    assert "3 cells from 1 animal." in text
    # a sentence whose parameters are not all stored is left out, never filled with defaults
    partial = cells.assign(analysis_parameters=json.dumps({"epsc": {"rs_max_ohm": 2e7, "rs_change_max": 0.1,
                                                                     "min_accepted_sweeps": 4}}))  # fmt: skip
    text = methods_markdown(partial, pd.DataFrame())
    assert "exceeded 20 MΩ or changed by more than 10 %" in text and "at least 4 accepted sweeps" in text
    assert "AMPAR-EPSCs were recorded at" not in text and "The baseline was" not in text


def test_a_catalog_without_parameters_says_so(synthetic):
    text = CompareView(synthetic, filter_stress=[], accepted_only=False).methods_text()
    assert "The catalog stores no EPSC analysis parameters for these cells." in text
    assert "do not record the nwb-ketamine version" in text
    assert f"{synthetic.cells['cell_key'].nunique()} cells from" in text


def test_the_methods_card_and_its_markdown_export(store):
    view = _view(store)
    assert view.methods.pane.object == ""  # written only when opened
    view.methods_card.collapsed = False
    assert view.methods.pane.object == view.methods_text()
    exported = view.methods_file().getvalue()
    assert exported.startswith(view.methods_text())
    assert f"nwb-ketamine {__version__} explorer" in exported and "sha256 " in exported
    view.filter_drug = [str(view.methods_rows()["cells"]["drug"].iloc[0])]
    assert view.methods.pane.object == view.methods_text()  # follows the filters while open


def test_the_paired_view_states_its_own_tests_and_the_paired_units(store):
    view = PairedView(store, accepted_only=False)
    assert view.methods.pane.object == ""
    text = view.methods_text()
    assert "Wilcoxon signed-rank" in text and "paired t tests (Cohen's d_z)" in text
    assert "Mann–Whitney" not in text  # the compare view's tests are not what this view computes
    assert "not adjusted for the number of groups" in text
    assert f"within each {' × '.join(('stress', 'drug'))}" in text  # the default facets
    n, animals = view.pairs["key"].nunique(), view.pairs["subject"].nunique()
    assert f"{n} units from {animals} animal{'s' * (animals != 1)}, by stress, drug" in text
    assert "**Slice electrophysiology.**" not in text  # no cells in a paired view
    view.methods.card.collapsed = False
    view.facet_row = "none"
    assert view.methods.pane.object == view.methods_text()  # written again while open
    assert "within each drug" in view.methods.pane.object
    assert view.methods.file().getvalue().startswith(view.methods_text())


def test_the_time_course_view_states_its_intervals_and_its_rows(store):
    view = TimeCourseView(store, accepted_only=False, filter_stress=[])
    text = view.methods_text()
    assert "t-interval over the animal means" in text and "percentile bootstrap over animals" in text
    assert "No significance tests are made in this view." in text
    assert "Mann–Whitney" not in text
    n, animals = view.data["key"].nunique(), view.data["subject"].nunique()
    assert f"{n} cells from {animals} animal{'s' * (animals != 1)}" in text
    assert "**In vivo recordings.**" not in text  # the NMDA measure: cells only
    view.filter_drug = [str(view.data["drug"].iloc[0])]
    assert "Filters: Drug ∈" in view.methods_text()
