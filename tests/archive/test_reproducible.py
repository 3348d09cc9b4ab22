"""Reproducible outputs (issue 16): two conversions of the tiny study give the same NWB content.

The tiny study is converted with ``--jobs 1`` (one process converts the slice cells and then the in vivo
session, so pynwb has ``ndx-dandi-icephys`` loaded when the in vivo file is written) and with ``--jobs 2``
(two Dask workers with other histories). Every file pair is compared with an h5py walker: the same objects
(groups, datasets, soft and external links) under the same names, the same dtypes, shapes and values (NaN
equal to NaN; object references compared by the path they point to) and the same attributes. Only the paths
in :data:`IGNORED` are skipped.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from nwb_ketamine.cli import main as cli

#: Objects whose value is allowed to differ between the two conversions, each with why.
IGNORED = {
    # The time of the conversion itself: pynwb sets it to "now" when the NWBFile is built.
    "/file_create_date",
}
#: Namespaces every file caches, used or not (pynwb's own).
BASE = {"core", "hdmf-common", "hdmf-experimental"}


def _value(f: h5py.File, value):
    """A value made comparable: references become the paths they point to, bytes become text.

    Parameters
    ----------
    f
        The open file the value comes from.
    value
        An attribute or dataset value.

    Returns
    -------
    object
    """
    if isinstance(value, h5py.Reference):
        return ("ref", f[value].name if value else None)
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray) and value.dtype == object:
        return [_value(f, v) for v in value.ravel().tolist()]
    if isinstance(value, np.ndarray) and value.dtype.names:
        return [tuple(_value(f, v) for v in row) for row in value.tolist()]
    if isinstance(value, tuple):
        return tuple(_value(f, v) for v in value)
    return value


def _equal(a, b) -> bool:
    """Whether two comparable values are equal, NaN equal to NaN.

    Parameters
    ----------
    a, b
        Values from :func:`_value`.

    Returns
    -------
    bool
    """
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        if a.dtype.kind in "fc":
            return bool(np.array_equal(a, b, equal_nan=True))
        return bool(np.array_equal(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (np.isnan(a) and np.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _walk(f: h5py.File) -> dict[str, tuple]:
    """Every object of a file by path: its kind, dtype, shape, value and attributes.

    Parameters
    ----------
    f
        The open file.

    Returns
    -------
    dict
        Path → (kind, description) where links are not followed.
    """
    out: dict[str, tuple] = {}

    def attrs(obj) -> dict:
        return {k: _value(f, obj.attrs[k]) for k in sorted(obj.attrs)}

    def visit(group: h5py.Group) -> None:
        for name in sorted(group):
            path = f"{group.name.rstrip('/')}/{name}"
            link = group.get(name, getlink=True)
            if isinstance(link, h5py.SoftLink):
                out[path] = ("softlink", link.path)
                continue
            if isinstance(link, h5py.ExternalLink):
                out[path] = ("externallink", link.filename, link.path)
                continue
            obj = group[name]
            if isinstance(obj, h5py.Group):
                out[path] = ("group", attrs(obj))
                visit(obj)
            elif path in IGNORED:
                out[path] = ("dataset", str(obj.dtype), obj.shape, None, attrs(obj))
            else:
                out[path] = ("dataset", str(obj.dtype), obj.shape, _value(f, obj[()]), attrs(obj))

    out["/"] = ("group", attrs(f))
    visit(f)
    return out


def _differences(a: Path, b: Path) -> list[str]:
    """What differs between two NWB files, one line per object (empty when they are the same).

    Parameters
    ----------
    a, b
        The files.

    Returns
    -------
    list of str
    """
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        wa, wb = _walk(fa), _walk(fb)
    problems = [f"only in {a.name} of the first archive: {p}" for p in sorted(set(wa) - set(wb))]
    problems += [f"only in {b.name} of the second archive: {p}" for p in sorted(set(wb) - set(wa))]
    for path in sorted(set(wa) & set(wb)):
        if not _equal(wa[path], wb[path]):
            problems.append(f"{a.name}: {path}: {str(wa[path])[:200]} != {str(wb[path])[:200]}")
    return problems


def _used_namespaces(path: Path) -> tuple[set[str], set[str]]:
    """The namespaces cached in a file and those its objects name (with the base ones and dependencies).

    Parameters
    ----------
    path
        The NWB file.

    Returns
    -------
    tuple of set
        (cached, used).
    """
    with h5py.File(path, "r") as f:
        cached = set(f["specifications"])
        used = set(BASE)
        f.visititems(
            lambda name, obj: (
                used.add(_value(f, obj.attrs["namespace"]))
                if "namespace" in obj.attrs and not name.startswith("specifications")
                else None
            )
        )
    return cached, used


@pytest.fixture(scope="module")
def two_archives(simulated_tiny, tmp_path_factory) -> tuple[Path, Path]:
    """The tiny study converted twice, with one process and with two Dask workers.

    Returns
    -------
    tuple of Path
    """
    out = tmp_path_factory.mktemp("repro")
    archives = (out / "jobs1", out / "jobs2")
    for archive, jobs in zip(archives, ("1", "2"), strict=True):
        assert cli(["convert", str(simulated_tiny), str(archive), "--jobs", jobs, "--quiet"]) == 0
    return archives


def _nwb_files(archive: Path) -> list[Path]:
    return sorted(p.relative_to(archive) for p in archive.rglob("*.nwb") if ".nwb-ketamine" not in p.parts)


def test_two_conversions_have_the_same_content(two_archives):
    first, second = two_archives
    files = _nwb_files(first)
    assert files == _nwb_files(second)
    assert len(files) == 3  # 2 slice cells and 1 tetrode session
    problems = [line for rel in files for line in _differences(first / rel, second / rel)]
    assert problems == []


def test_identifiers_are_deterministic_and_distinct(two_archives):
    first, second = two_archives
    ids = {}
    for archive in two_archives:
        for rel in _nwb_files(archive):
            with h5py.File(archive / rel, "r") as f:
                ids.setdefault(rel, set()).add(f["identifier"][()].decode())
    assert all(len(v) == 1 for v in ids.values())
    assert len({next(iter(v)) for v in ids.values()}) == len(ids)
    assert first != second


def test_specifications_hold_only_the_namespaces_used(two_archives):
    seen = set()
    for archive in two_archives:
        for rel in _nwb_files(archive):
            cached, used = _used_namespaces(archive / rel)
            # The extension namespaces a file names pull in only the base ones, so nothing else is due.
            assert cached == used, (archive.name, rel)
            seen |= cached
    assert "ndx-dandi-icephys" in seen  # the slice cells use it: the check sees cached extensions at all


def test_files_read_back_with_their_cached_namespaces(two_archives):
    import pynwb

    for rel in _nwb_files(two_archives[0]):
        path = two_archives[0] / rel
        with pynwb.NWBHDF5IO(str(path), "r", load_namespaces=True) as io:
            nwbfile = io.read()
            assert nwbfile.session_start_time is not None
        errors = pynwb.validate(path=str(path), use_cached_namespaces=True)
        assert list(errors[0] if isinstance(errors, tuple) else errors) == [], rel


def test_catalog_rereads_a_file_whose_content_changed_under_the_same_identifier(two_archives, tmp_path):
    import os
    import shutil

    from nwb_ketamine.archive.catalog import build_catalog, load_catalog

    archive = tmp_path / "archive"
    shutil.copytree(two_archives[0], archive, ignore=shutil.ignore_patterns(".nwb-ketamine"))
    build_catalog(archive, progress=False)
    rel = next(r for r in _nwb_files(archive) if "icephys" not in r.name)
    before = load_catalog(archive)["sessions"].set_index("file").loc[rel.as_posix()]
    # A reconversion writes a new file and renames it into place: same identifier, other content.
    changed = archive / rel.with_name("changed.tmp")
    shutil.copy2(archive / rel, changed)
    with h5py.File(changed, "r+") as f:
        del f["general/subject/species"]
        f["general/subject/species"] = "Rattus norvegicus"
        assert f["identifier"][()].decode() == before["identifier"]
    os.replace(changed, archive / rel)
    result = build_catalog(archive, progress=False)
    after = load_catalog(archive)["sessions"].set_index("file").loc[rel.as_posix()]
    assert result.read == [rel.as_posix()]
    assert (before["species"], after["species"]) == ("Mus musculus", "Rattus norvegicus")
    assert after["identifier"] == before["identifier"]
