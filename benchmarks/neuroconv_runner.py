"""NeuroConv's side of the benchmarks, run inside ``benchmarks/.neuroconv-venv`` (see ``neuroconv_env.py``).

This file imports nothing from nwb-ketamine: the benchmarks pass it everything as one JSON argument, a
list of jobs converted one after the other in this one process::

    {"warmup": true,
     "jobs": [{"kind": "openephys", "folder": ..., "start": ISO, "out": ..., "config": "defaults"}, ...]}

``kind`` is ``openephys`` (``OpenEphysBinaryRecordingInterface``; ``config`` ``defaults`` leaves the backend
configuration as NeuroConv chooses it, ``matched`` sets gzip level 4 with shuffle and chunks of all
channels of ``chunk_bytes``, default 10 MiB; the benchmarks pass our writer's ``CHUNK_BYTES``), ``axon``
(``AxonIntracellularInterface``, one file, ``mode`` and optional
``channel`` and ``stimulus``, false for no reconstructed command) or ``abf`` (the legacy ``AbfInterface``,
``files`` and ``mode``). With ``warmup`` the first job is converted once untimed (imports, caches) before
the timed pass. For each job it prints one JSON line on stdout: ``{"out", "seconds", "cpu_seconds",
"bytes"}`` (seconds of the conversion alone, imports excluded); the time to import NeuroConv, pynwb and the
interfaces used is printed first as ``{"import_seconds"}``.
"""

import json
import os
import sys
import time
import warnings
from datetime import datetime
from pathlib import Path

warnings.simplefilter("ignore")
t0 = time.perf_counter()
from neuroconv.tools.nwb_helpers import configure_backend, get_default_backend_configuration  # noqa: E402
from pynwb import NWBHDF5IO  # noqa: E402

IMPORT_SECONDS = time.perf_counter() - t0


def _write(nwbfile, out: str, matched: bool, chunk_bytes: int = 10 * 1024 * 1024) -> None:
    config = get_default_backend_configuration(nwbfile=nwbfile, backend="hdf5")  # defaults: used unchanged
    for dataset in config.dataset_configurations.values() if matched else ():
        dataset.compressors = ["shuffle", "gzip"]
        dataset.compressor_options = [None, {"level": 4}]
        if dataset.dataset_name == "data" and len(dataset.full_shape) == 2:
            n, c = dataset.full_shape
            dataset.chunk_shape = (min(n, chunk_bytes // (2 * c)), c)
    configure_backend(nwbfile=nwbfile, backend_configuration=config)
    with NWBHDF5IO(out, "w") as io:
        io.write(nwbfile)


def _start(metadata: dict, job: dict) -> None:
    if job.get("start"):
        metadata["NWBFile"]["session_start_time"] = datetime.fromisoformat(job["start"])
    else:  # an ABF header's date, naive: NWB wants a time zone
        start = datetime.fromisoformat(str(metadata["NWBFile"]["session_start_time"]))
        metadata["NWBFile"]["session_start_time"] = start.replace(
            tzinfo=start.tzinfo or datetime.now().astimezone().tzinfo
        )


def convert(job: dict) -> None:
    kind, out = job["kind"], job["out"]
    Path(out).unlink(missing_ok=True)
    if kind == "openephys":
        from neuroconv.datainterfaces import OpenEphysBinaryRecordingInterface

        interface = OpenEphysBinaryRecordingInterface(folder_path=job["folder"])
        metadata = interface.get_metadata()
        _start(metadata, job)
        matched = job.get("config") == "matched"
        _write(interface.create_nwbfile(metadata=metadata), out, matched, job.get("chunk_bytes", 10 * 1024 * 1024))
    elif kind == "axon":
        from neuroconv.datainterfaces import AxonIntracellularInterface

        names = AxonIntracellularInterface.get_channel_names(job["file"])
        commands = AxonIntracellularInterface.get_command_names(job["file"])
        options = {}
        if job.get("stimulus", True) and commands:
            options["stimulus_command"] = commands[min(job.get("channel", 0), len(commands) - 1)]
        interface = AxonIntracellularInterface(
            job["file"], response_channel_name=names[job.get("channel", 0)], mode=job["mode"], **options
        )
        metadata = interface.get_metadata()
        _start(metadata, job)
        interface.run_conversion(nwbfile_path=out, metadata=metadata, overwrite=True)
    elif kind == "abf":
        from neuroconv.datainterfaces import AbfInterface

        files = job["files"]
        sessions = [
            {
                "abf_file_name": Path(f).name,
                "stimulus_type": job.get("protocol", ""),
                "icephys_experiment_type": job["mode"],
            }
            for f in files
        ]
        interface = AbfInterface(file_paths=files, icephys_metadata={"recording_sessions": sessions})
        metadata = interface.get_metadata()
        _start(metadata, job)
        interface.run_conversion(nwbfile_path=out, metadata=metadata, overwrite=True)
    else:
        raise ValueError(f"unknown job kind {kind!r}")


INTERFACES = {
    "openephys": "OpenEphysBinaryRecordingInterface",
    "axon": "AxonIntracellularInterface",
    "abf": "AbfInterface",
}


def main():
    spec = json.loads(sys.argv[1])
    jobs = spec["jobs"]
    t0 = time.perf_counter()
    import neuroconv.datainterfaces as interfaces

    for kind in {job["kind"] for job in jobs}:  # imported here so that the conversions' times exclude them
        getattr(interfaces, INTERFACES[kind])
    print(json.dumps({"import_seconds": IMPORT_SECONDS + time.perf_counter() - t0}), flush=True)
    if spec.get("warmup") and jobs:
        convert({**jobs[0], "out": jobs[0]["out"] + ".warmup.nwb"})
        Path(jobs[0]["out"] + ".warmup.nwb").unlink(missing_ok=True)
    for job in jobs:
        c0, t0 = time.process_time(), time.perf_counter()
        try:
            convert(job)
        except Exception as error:  # a file NeuroConv cannot read is a result too
            print(json.dumps({"out": job["out"], "error": f"{type(error).__name__}: {error}"[:300]}), flush=True)
            continue
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(
            json.dumps(
                {"out": job["out"], "seconds": seconds, "cpu_seconds": cpu, "bytes": os.path.getsize(job["out"])}
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
