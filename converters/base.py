"""The small base class every session converter follows (after NeuroConv's BaseDataInterface).

A converter is built from the study and one session, keeps its constructor arguments for provenance,
and offers three steps: ``create_nwbfile`` (metadata only), ``add_to_nwbfile`` (the data, abstract) and
``run_conversion`` (write). Writing is atomic (:func:`nwb_ketamine.atomic.atomic_path`): the file is
written under a temporary name in the target folder and renamed only when complete, so an interrupted run
never leaves a file that looks done; an existing file is replaced only when asked.

Design decisions (reproducible outputs, issue 16): the same inputs and version give the same content.

- The NWB ``identifier`` is :func:`nwb_ketamine.nwbfile.session_identifier` of the session and the options
  in :data:`CONTENT_OPTIONS`; a file built here whose converter's ``create_nwbfile`` did not pass the options
  gets it written before the file is closed. The objects' ``object_id`` are derived from it
  (:func:`nwb_ketamine.nwbfile.set_object_ids`) instead of pynwb's random ones.
- ``/specifications`` caches exactly the namespaces the file uses: pynwb would cache every namespace loaded in
  the process (a Dask worker that converted an ABF cell before has ``ndx-dandi-icephys`` loaded, so an in
  vivo file it wrote next carried it). The file is written with ``cache_spec=False`` and then
  :func:`cache_used_namespaces` caches, in hdmf's own layout, the base namespaces (:data:`BASE_NAMESPACES`),
  the namespaces named by a ``namespace`` attribute in the file, and every namespace these depend on.
  Nothing is deleted afterwards, so no free space is left in the file.

Design decisions (work done once per process, issue 17; ``benchmarks/bench_abf_ab.py`` measures them):

- pynwb's ``NWBHDF5IO(path, "w")`` deep-copies its global type map for every file. The write uses a fresh
  ``BuildManager`` (it caches the file's builders) over pynwb's global type map itself
  (:func:`write_manager`): writing adds no namespace to it, and it holds every extension imported so far.
- The namespaces a file uses are read from the builders pynwb just wrote, not by visiting every object of
  the file again. Each namespace's cached specification (hdmf's ``NamespaceToBuilderHelper`` export through
  ``H5SpecWriter``: JSON text datasets) is rendered once per process and version
  (:func:`_spec_datasets`), then written to each file as the same scalar string datasets.
- The identifier (hashing the ends of every source) is computed once per converter
  (:attr:`SessionConverter.identifier`) for both the NWBFile and the object ids.
"""

from __future__ import annotations

import threading
import warnings
from abc import ABC, abstractmethod
from functools import cached_property
from pathlib import Path

import h5py
from hdmf.backends.hdf5.h5_utils import H5SpecWriter
from hdmf.backends.hdf5.h5tools import SPEC_LOC_ATTR
from hdmf.backends.utils import NamespaceToBuilderHelper
from hdmf.build import BuildManager, GroupBuilder
from hdmf.build.builders import BaseBuilder
from hdmf.spec.write import SpecWriter
from pynwb import NWBHDF5IO, NWBFile, get_type_map

from nwb_ketamine.atomic import atomic_path
from nwb_ketamine.metadata import Study

#: The converter attributes that change a file's content, hence part of its identifier.
CONTENT_OPTIONS = ("stub", "include_raw")
#: Namespaces every NWB file caches (those pynwb itself loads), used or not.
BASE_NAMESPACES = ("core", "hdmf-common", "hdmf-experimental")


def _namespaces_in(f: h5py.File) -> set[str]:
    """The values of every ``namespace`` attribute of the objects of an open file (its specifications aside).

    Parameters
    ----------
    f
        The file.

    Returns
    -------
    set of str
    """
    objects = [f]
    for key in f:
        if key != "specifications":
            objects.append(f[key])
            if isinstance(f[key], h5py.Group):
                f[key].visit(lambda name, group=f[key]: objects.append(group[name]))
    values = [obj.attrs.get("namespace") for obj in objects]
    return {v.decode() if isinstance(v, bytes) else str(v) for v in values if v is not None}


def _namespaces_built(root: GroupBuilder) -> set[str]:
    """The values of every ``namespace`` attribute of a builder tree (what :func:`_namespaces_in` reads back).

    Parameters
    ----------
    root
        The root builder pynwb wrote.

    Returns
    -------
    set of str
    """
    found: set[str] = set()
    todo: list[BaseBuilder] = [root]
    while todo:
        builder = todo.pop()
        value = builder.attributes.get("namespace")
        if value is not None:
            found.add(value.decode() if isinstance(value, bytes) else str(value))
        if isinstance(builder, GroupBuilder):  # links point into the tree: their targets are visited there
            todo.extend(builder.groups.values())
            todo.extend(builder.datasets.values())
    return found


def write_manager() -> BuildManager:
    """A fresh BuildManager over pynwb's global type map, without pynwb's per-file deep copy of the map.

    Returns
    -------
    BuildManager
    """
    return BuildManager(get_type_map(copy=False))


class _RecordingSpecWriter(SpecWriter):
    """A SpecWriter that keeps what ``H5SpecWriter`` would write: (dataset name, JSON text) pairs."""

    def __init__(self):
        self.datasets: list[tuple[str, str]] = []

    def write_spec(self, spec, path):
        """Keep a spec file's JSON text under its dataset name.

        Parameters
        ----------
        spec
            The specification file's content.
        path
            The dataset name (the source's name).
        """
        self.datasets.append((path, H5SpecWriter.stringify(spec)))

    def write_namespace(self, namespace, path):
        """Keep the namespace's JSON text under its dataset name, as ``H5SpecWriter.write_namespace``.

        Parameters
        ----------
        namespace
            The namespace.
        path
            The dataset name (``namespace``).
        """
        self.datasets.append((path, H5SpecWriter.stringify({"namespaces": [namespace]})))


#: (namespace, version, id of the catalog) -> the datasets of its cached specification, rendered once
_rendered: dict[tuple[str, str, int], tuple[tuple[str, str], ...]] = {}
_rendered_lock = threading.Lock()


def _spec_datasets(catalog, name: str) -> tuple[tuple[str, str], ...]:
    """The (dataset name, JSON text) pairs hdmf caches for namespace ``name`` of ``catalog``, once per process.

    Parameters
    ----------
    catalog
        The namespace catalog of the write's type map.
    name
        The namespace.

    Returns
    -------
    tuple of (str, str)
    """
    key = (name, catalog.get_namespace(name).version, id(catalog))
    with _rendered_lock:
        if key not in _rendered:
            writer = _RecordingSpecWriter()
            NamespaceToBuilderHelper.convert_namespace(catalog, name).export("namespace", writer=writer)
            _rendered[key] = tuple(writer.datasets)
        return _rendered[key]


def cache_used_namespaces(io: NWBHDF5IO, root: GroupBuilder | None = None) -> list[str]:
    """Cache into ``/specifications`` of the open, written file only the namespaces it uses; return them.

    Parameters
    ----------
    io
        The open NWBHDF5IO, after ``io.write(nwbfile, cache_spec=False)``.
    root
        The root builder that write wrote (its ``namespace`` attributes are the file's); default: read the
        attributes back from the file.

    Returns
    -------
    list of str
        The cached namespaces, sorted.
    """
    catalog = io.manager.namespace_catalog
    wanted = set(BASE_NAMESPACES) | (_namespaces_built(root) if root is not None else _namespaces_in(io._file))
    todo = list(wanted)
    while todo:
        for entry in catalog.get_namespace(todo.pop()).schema:
            dependency = entry.get("namespace")
            if dependency is not None and dependency not in wanted:
                wanted.add(dependency)
                todo.append(dependency)
    f = io._file
    specs = f.require_group("specifications")
    f.attrs[SPEC_LOC_ATTR] = specs.ref
    text = h5py.string_dtype()  # H5SpecWriter's special_dtype(vlen=str)
    for name in [n for n in catalog.namespaces if n in wanted]:  # hdmf's order: the order they were loaded
        group = specs.create_group(f"{name}/{catalog.get_namespace(name).version}")
        for dataset, value in _spec_datasets(catalog, name):
            group.create_dataset(dataset, shape=(), data=value, dtype=text)
    return sorted(wanted)


class SessionConverter(ABC):
    """Base class: converts one session of a study into one NWB file.

    Parameters
    ----------
    study
        The validated study.
    session
        The session of ``study`` to convert.
    stub
        Convert only a short preview of the data.

    Examples
    --------
    >>> study = load_study("study.yaml")  # doctest: +SKIP
    >>> InVivoConverter(study, study.invivo_sessions[0]).run_conversion("session.nwb")  # doctest: +SKIP
    >>> AbfSliceConverter(study, study.slice_sessions[0]).run_conversion("cell.nwb")  # doctest: +SKIP
    """

    #: Short description used when the study file gives none.
    session_description = "A recording session."
    #: The batch run's options this converter takes as keyword arguments (``include_raw``, ``workers``).
    RUN_OPTIONS: tuple[str, ...] = ()

    def __init__(self, study: Study, session, *, stub: bool = False):
        self.study = study
        self.session = session
        self.stub = stub

    @cached_property
    def identifier(self) -> str:
        """The file's deterministic identifier (:func:`~nwb_ketamine.nwbfile.session_identifier`), computed once."""
        from nwb_ketamine.nwbfile import session_identifier

        return session_identifier(self.study, self.session, self.content_options())

    def create_nwbfile(self) -> NWBFile:
        """An NWBFile with the session's metadata and no data."""
        from nwb_ketamine.nwbfile import new_nwbfile

        return new_nwbfile(
            self.study, self.session, session_description=self.session_description, identifier=self.identifier
        )

    def content_options(self) -> dict[str, object]:
        """The options of :data:`CONTENT_OPTIONS` this converter has, by name (part of the identifier).

        Returns
        -------
        dict
        """
        return {name: getattr(self, name) for name in CONTENT_OPTIONS if hasattr(self, name)}

    @abstractmethod
    def add_to_nwbfile(self, nwbfile: NWBFile) -> None:
        """Add the session's data to ``nwbfile``; every check of the sources runs here, before any write.

        Parameters
        ----------
        nwbfile
            The file built by :meth:`create_nwbfile`.
        """

    def after_write(self, path: Path, progress=None) -> None:  # noqa: B027 - a hook: most converters need none
        """Write what pynwb's ``io.write`` cannot (e.g. streamed raw samples) into the closed file at ``path``.

        Parameters
        ----------
        path
            The written, closed file.
        progress
            Called with the number of samples written, or None.
        """

    def write_nwb(self, path: str | Path, nwbfile: NWBFile | None = None, *, progress=None) -> Path:
        """Convert the session and write it to ``path`` as it is (not atomically: see :meth:`run_conversion`).

        Parameters
        ----------
        path
            The file to write.
        nwbfile
            An NWBFile already filled (default: built with :meth:`create_nwbfile` and :meth:`add_to_nwbfile`).
        progress
            Called with the number of samples written, for long raw recordings.
        """
        from nwb_ketamine.nwbfile import set_object_ids

        path = Path(path)
        identifier = None
        if nwbfile is None:
            nwbfile = self.create_nwbfile()
            self.add_to_nwbfile(nwbfile)
            identifier = self.identifier
            set_object_ids(nwbfile, identifier)
        with warnings.catch_warnings():
            # Temporary names deliberately do not end in .nwb, so no tool takes them for a finished file.
            warnings.filterwarnings("ignore", message="The file path provided: .* does not end in '.nwb'")
            with NWBHDF5IO(path, "w", manager=write_manager()) as io:
                io.write(nwbfile, cache_spec=False)
                if identifier is not None and nwbfile.identifier != identifier:
                    io._file["identifier"][()] = identifier
                cache_used_namespaces(io, io.manager.get_builder(nwbfile))
        self.after_write(path, progress=progress)
        return path

    def run_conversion(
        self, path: str | Path, nwbfile: NWBFile | None = None, *, overwrite: bool = False, progress=None
    ) -> Path:
        """Convert the session and write it to ``path`` atomically; return the path.

        Parameters
        ----------
        path
            The NWB file to write.
        nwbfile
            An NWBFile already filled (default: built with :meth:`create_nwbfile` and :meth:`add_to_nwbfile`).
        overwrite
            Replace an existing file (default: refuse, before anything is read or written).
        progress
            Called with the number of samples written, for long raw recordings.
        """
        path = Path(path)
        with atomic_path(path, overwrite=overwrite) as partial:
            self.write_nwb(partial, nwbfile, progress=progress)
        return path
