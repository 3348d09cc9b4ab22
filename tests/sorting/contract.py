"""The contract every sorting reader of the registry keeps, as a pytest class mixin.

A format's test module subclasses :class:`SortingReaderContract`, names the format and gives a ``case``
fixture returning a :class:`SortingCase`: the files, the session, and what an independent reading of the
same files (neo, or numpy on the raw bytes) says they hold. The mixin then checks the reader's
metadata (channel names per tetrode, duration, files read, reader line), its spike times and labels
against that reading, the Units table written from it and read back with pynwb, and its one-line
refusal of a bad input (naming the file).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from pynwb import NWBHDF5IO

from nwb_ketamine.converters.registry import SORTING_FORMATS, read_sorting
from nwb_ketamine.converters.units import add_units
from nwb_ketamine.errors import ConversionError
from tests.sorting.conftest import nwbfile_with_electrodes


@dataclass
class SortingCase:
    """One sorting on disk and what an independent reading of its files finds.

    ``reference`` maps each unit id to its spike samples, ``labels`` each unit id to its curation label;
    ``files`` are names that must be among the files the reader lists; ``bad_input(tmp_path)`` makes a
    broken copy of the sorting and returns it with a phrase the refusal must contain.
    """

    path: Path
    session: object
    sampling_rate_hz: float | None
    reference: dict[str, np.ndarray]
    labels: dict[str, str]
    channel_names: dict[int, list[str]] | None
    duration_s: float | None
    files: list[str]
    bad_input: Callable[[Path], tuple[Path, str]]


class SortingReaderContract:
    """Mixin: subclasses set ``fmt`` and define a ``case`` fixture returning a :class:`SortingCase`."""

    fmt: ClassVar[str]

    @pytest.fixture
    def units(self, case):
        """The sorting as the registry reads it."""
        return read_sorting(case.path, self.fmt, session=case.session, sampling_rate_hz=case.sampling_rate_hz)

    def test_registered(self):
        """The format is an entry of the registry."""
        assert self.fmt in SORTING_FORMATS

    def test_metadata(self, case, units):
        """Channel names per tetrode, duration, files read and reader line are what the files say."""
        assert units.channel_names == case.channel_names
        assert units.duration_s == (pytest.approx(case.duration_s) if case.duration_s is not None else None)
        read = {Path(f).name for f in units.source_files}
        assert set(case.files) <= read, sorted(set(case.files) - read)
        assert units.reader.startswith(SORTING_FORMATS[self.fmt].reader.__module__)
        if case.sampling_rate_hz is not None:
            assert units.sampling_rate_hz == case.sampling_rate_hz

    def test_spike_times_equal_the_reference(self, case, units):
        """Every unit and every spike sample equals the independent reading."""
        assert sorted(units.ids) == sorted(case.reference)
        for uid, samples in zip(units.ids, units.spike_samples, strict=True):
            np.testing.assert_array_equal(samples, np.sort(np.asarray(case.reference[uid], dtype=np.int64)), uid)

    def test_labels_and_tetrodes(self, case, units):
        """Curation labels as the files give them; every unit on a tetrode of the session."""
        assert dict(zip(units.ids, units.labels, strict=True)) == case.labels
        assert all(0 <= t < len(case.session.tetrodes) for t in units.tetrode)

    def test_units_table_reads_back(self, case, units, tmp_path):
        """The Units table written from the sorting reads back with pynwb: names, labels, spike times."""
        nwbfile, rows = nwbfile_with_electrodes(case.session)
        add_units(nwbfile, units, session=case.session, electrode_rows_of_tetrode=rows)
        path = tmp_path / f"{self.fmt}.nwb"
        with NWBHDF5IO(path, "w") as io:
            io.write(nwbfile)
        with NWBHDF5IO(path, "r") as io:
            table = io.read().units
            assert list(table["unit_name"][:]) == units.ids
            assert list(table["curation_label"][:]) == units.labels
            for i, samples in enumerate(units.spike_samples):
                np.testing.assert_allclose(
                    table["spike_times"][i], samples / units.sampling_rate_hz, rtol=0, atol=1e-12
                )

    def test_refuses_a_bad_input(self, case, tmp_path):
        """A broken sorting is refused with one line naming the file and the problem."""
        path, phrase = case.bad_input(tmp_path)
        with pytest.raises(ConversionError) as err:
            read_sorting(path, self.fmt, session=case.session, sampling_rate_hz=case.sampling_rate_hz)
        assert str(path) in str(err.value) and phrase in str(err.value) and "\n" not in str(err.value)
