"""The ``nwb-ketamine`` command: a thin layer over the library.

Every subcommand calls one library function. Errors a user can cause (``NwbKetamineError``) are
printed as one line each on stderr with exit code 1, and so is an ``OSError`` that reaches the command
(a path that is a file, a folder that is read-only, a full disk: the environment, not a bug), named by
its file; anything else is a bug and keeps its traceback. Numeric options are checked by argparse
(``--jobs`` a positive integer, ``--port`` a TCP port), which refuses a bad one with exit code 2.
"""

import argparse
import sys
from pathlib import Path

from nwb_ketamine import __version__
from nwb_ketamine.errors import NwbKetamineError, StudyFileError

#: The optional dependency group each command needs (``pip install 'nwb-ketamine[GROUP]'``); the catalog
#: is part of explore's group, and the demo runs every command.
_EXTRAS = {
    "check": "convert",
    "simulate": "convert",
    "convert": "convert",
    "validate": "validate",
    "catalog": "explore",
    "explore": "explore",
    "demo": "all",
}
#: The study size ``nwb-ketamine demo`` simulates (``nwb_ketamine.simulate.parameters.SIZES``).
DEMO_SIZE = "demo"


def _check(args) -> int:
    from nwb_ketamine.metadata import load_study

    study = load_study(args.study, check_files=not args.no_files)
    if not args.no_files:
        from nwb_ketamine.sources import check_recordings

        check_recordings(study)
    print(study.summary())
    return 0


def _simulate(args) -> int:
    from nwb_ketamine.metadata import load_study
    from nwb_ketamine.simulate import simulate_study

    study_path = simulate_study(
        args.out, seed=args.seed, size=args.size, progress=not args.quiet, invivo_variants=args.invivo_variants
    )
    print(f"wrote {study_path}")
    print(load_study(study_path).summary())
    return 0


def _convert(args) -> int:
    from nwb_ketamine.archive.batch import convert_study

    summary = convert_study(
        args.study,
        args.archive,
        jobs=args.jobs,
        scheduler=args.scheduler,
        overwrite=args.overwrite,
        stub=args.stub,
        include_raw=not args.no_raw,
        progress=not args.quiet,
        wait=args.wait,
    )
    return 1 if summary.failed else 0


def _validate(args) -> int:
    import json

    from nwb_ketamine.archive.validate import validate_archive
    from nwb_ketamine.atomic import write_text

    report = validate_archive(args.archive, progress=not args.quiet, jobs=args.jobs)
    print(report.summary())
    if args.json:
        write_text(args.json, json.dumps(report.to_json(), indent=2))  # a kill or full disk keeps the old report
        print(f"JSON report: {args.json}")
    return 1 if report.has_errors else 0


def _catalog(args) -> int:
    from nwb_ketamine.archive.catalog import build_catalog

    result = build_catalog(args.archive, jobs=args.jobs, progress=not args.quiet, out=args.out, full=args.full)
    print(result)
    for path, reason in result.failed.items():
        print(f"FAILED {path}: {reason}", file=sys.stderr)
    return 1 if result.failed else 0


def _locking(run, command: str, folder):
    """``run`` holding the archive lock (:mod:`nwb_ketamine.archive.lock`) of the folder it writes into.

    ``folder(args)`` is that folder, or None when the command writes nothing (``validate`` without
    ``--json``); a folder that is not an archive (missing, or without NWB files and state folder) is not
    locked: the command refuses it itself, and no lock file is left in, say, the study folder.
    """

    def locked(args) -> int:
        """Run the command under the lock.

        Parameters
        ----------
        args
            The parsed command line.

        Returns
        -------
        int
        """
        from contextlib import nullcontext

        from nwb_ketamine.archive.layout import is_archive
        from nwb_ketamine.archive.lock import archive_lock

        where = folder(args)
        hold = where is not None and is_archive(Path(where))  # else the command refuses it, leaving no lock
        with archive_lock(where, f"nwb-ketamine {command}", wait=args.wait) if hold else nullcontext():
            return run(args)

    return locked


def _catalog_folder(args):
    """Where ``catalog`` writes: the archive, or ``--out`` for an archive at a URL."""
    return args.out if "://" in str(args.archive) else args.archive


def _explore(args) -> int:
    from nwb_ketamine.explorer.allocator import use_system_allocator

    if args.command_line is not None:  # the program, not a caller of main(): restart on glibc's allocator
        use_system_allocator(args.command_line)
    from nwb_ketamine.explorer.server import serve

    serve(
        args.archive,
        port=args.port,
        address=args.address,
        show=args.show,
        allow_remote=args.allow_remote,
        validation_report=args.report,
        cache=args.cache,
    )
    return 0


def _demo(args) -> int:
    out = args.dir
    study, archive = out / "raw" / "study.yaml", out / "archive"
    report = archive / ".nwb-ketamine" / "validation.json"  # where explore looks for it

    def step(*argv: str, allowed=(0,)) -> None:
        """Run one command as the demo shows it.

        Parameters
        ----------
        *argv
            The command and its arguments.
        allowed
            Exit codes that let the demo go on.
        """
        print("\n$ nwb-ketamine", " ".join(argv), flush=True)
        code = main(list(argv))
        if code not in allowed:
            raise NwbKetamineError(f"demo: 'nwb-ketamine {' '.join(argv)}' exited with {code}")

    if study.exists():
        print(f"reusing the simulated study in {study.parent} (delete {out} to simulate afresh)")
    else:
        step("simulate", str(study.parent), "--size", DEMO_SIZE)
    step("check", str(study))
    step("convert", str(study), str(archive))
    report.parent.mkdir(parents=True, exist_ok=True)
    step("validate", str(archive), "--json", str(report), allowed=(0, 1))  # findings are shown in the explorer
    step("catalog", str(archive))
    if args.no_explore:
        print(f"\nExplore it with: nwb-ketamine explore {archive}")
        return 0
    print(f"\n$ nwb-ketamine explore {archive} --port {args.port}  (Ctrl-C to stop)", flush=True)
    explore = ["explore", str(archive), "--port", str(args.port), *(["--show"] if args.show else [])]
    if args.command_line is not None:  # the demo becomes the explore command (see _explore)
        from nwb_ketamine.explorer.allocator import use_system_allocator

        use_system_allocator(explore)
    try:
        return main(explore)
    except KeyboardInterrupt:
        return 0


def _positive_int(text: str) -> int:
    """``--jobs``: a whole number of at least 1 (0 or a negative count is refused, not guessed)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number; give 1 or more")
    return value


def _port(text: str) -> int:
    """``--port``: a TCP port, 1 to 65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (1 to 65535)")
    return value


def _folder_or_url(text: str) -> str | Path:
    """``explore ARCHIVE``: an http(s) URL as given (a Path would fold its ``//``), else a folder."""
    from nwb_ketamine.archive.remote import is_url

    return text if is_url(text) else Path(text)


def _command(commands, name: str, run) -> argparse.ArgumentParser:
    """A subcommand's parser (help from :data:`_HELP`), set to call ``run(args)``."""
    parser = commands.add_parser(name, **_HELP[name])
    parser.set_defaults(run=run)
    return parser


#: Each command's one-line help (in ``nwb-ketamine --help``) and the description of its own ``--help``.
_HELP = {
    "check": dict(help="validate a study metadata file and summarise it"),
    "simulate": dict(
        help="write a simulated raw study (ABF, Open Ephys, phy, study.yaml, ground truth)",
        description="Write a realistic simulated study in real vendor formats. Effect sizes are illustrative, "
        "not values from the paper.",
    ),
    "convert": dict(
        help="convert every session of a study into a DANDI-layout NWB archive",
        description="Validate the study file, then convert every session in parallel on Dask into ARCHIVE, "
        "skipping sessions whose inputs are unchanged. Each file is written atomically and validated.",
    ),
    "validate": dict(
        help="validate an archive: pynwb schema, NWB Inspector (DANDI config), dandi layout, domain checks",
        description="Validate every NWB file of ARCHIVE offline and print the findings grouped by severity. "
        "Exits 1 when there is any CRITICAL or ERROR finding.",
    ),
    "catalog": dict(
        help="build or refresh the catalog tables (sessions, cells, units) from the NWB files",
        description="Read the NWB files of ARCHIVE (a folder or an http(s):// URL) and write Parquet tables of "
        "sessions, cells and units with their results and group labels. Only new or changed files are reread.",
    ),
    "explore": dict(
        help="serve the explorer of an archive (compare groups, overview, cell/unit/trace details)",
        description="Serve the explorer on 127.0.0.1. Read-only; only files listed in the catalog are opened.",
    ),
    "demo": dict(
        help="simulate a study (4 animals per group), convert, validate, catalog and explore it",
        description=f"simulate (size {DEMO_SIZE}) → convert → validate → catalog → explore, in DIR "
        "(reused when rerun).",
    ),
}


def _wait_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait", action="store_true", help="when another run writes into the archive, wait for it (default: refuse)"
    )


def build_parser() -> argparse.ArgumentParser:
    """The parser of the ``nwb-ketamine`` command and its subcommands.

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = argparse.ArgumentParser(
        prog="nwb-ketamine",
        description="Turn slice patch-clamp and in vivo tetrode recordings of a drug & stress study into a "
        "validated, DANDI-ready NWB archive, and explore it.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = _command(commands, "check", _check)
    check.add_argument("study", type=Path, metavar="STUDY.yaml")
    check.add_argument("--no-files", action="store_true", help="do not require the raw files to exist")

    from nwb_ketamine.simulate.parameters import SIZES

    simulate = _command(commands, "simulate", _simulate)
    simulate.add_argument("out", type=Path, metavar="OUT", help="folder to create (must not exist or be empty)")
    simulate.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    simulate.add_argument("--size", choices=list(SIZES), default="small", help="study size (default small)")
    simulate.add_argument("--quiet", action="store_true", help="no progress bars")
    simulate.add_argument(
        "--invivo-variants",
        action="store_true",
        help="also write three in vivo sessions: Open Ephys in two recordings with a pause, Neuralynx with "
        "32 kHz and 2 kHz channels and a gap, and a sorting-only phy folder (no raw data)",
    )

    convert = _command(commands, "convert", _convert)
    convert.add_argument("study", type=Path, metavar="STUDY.yaml")
    convert.add_argument("archive", type=Path, metavar="ARCHIVE")
    convert.add_argument("--jobs", type=_positive_int, default=None, help="worker processes (default: one per core)")
    convert.add_argument("--scheduler", default=None, metavar="ADDRESS", help="use an existing Dask scheduler")
    convert.add_argument("--overwrite", action="store_true", help="convert everything again")
    convert.add_argument("--stub", action="store_true", help="quick preview: a few seconds / sweeps per session")
    convert.add_argument("--no-raw", action="store_true", help="tetrode sessions: keep units, waveforms, events")
    convert.add_argument("--quiet", action="store_true", help="no progress bar")
    _wait_option(convert)

    validate = _command(commands, "validate", _locking(_validate, "validate --json", lambda a: a.json and a.archive))
    validate.add_argument("archive", type=Path, metavar="ARCHIVE")
    validate.add_argument("--json", type=Path, metavar="REPORT", help="also write the report as JSON")
    validate.add_argument("--jobs", type=_positive_int, default=None, help="processes (default: one per core)")
    validate.add_argument("--quiet", action="store_true", help="no progress bar")
    _wait_option(validate)

    catalog = _command(commands, "catalog", _locking(_catalog, "catalog", _catalog_folder))
    catalog.add_argument("archive", metavar="ARCHIVE", help="archive folder or URL")
    catalog.add_argument("--out", type=Path, default=None, help="where to write the tables (needed for a URL)")
    catalog.add_argument("--jobs", type=_positive_int, default=None, help="Dask workers for large archives")
    catalog.add_argument("--full", action="store_true", help="reread every file")
    catalog.add_argument("--quiet", action="store_true", help="no progress bar")
    _wait_option(catalog)

    explore = _command(commands, "explore", _explore)
    explore.add_argument("archive", type=_folder_or_url, metavar="ARCHIVE", help="archive folder or http(s) URL")
    explore.add_argument("--port", type=_port, default=5006, help="port (default 5006)")
    explore.add_argument("--address", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    explore.add_argument("--allow-remote", action="store_true", help="needed to listen on a non-loopback address")
    explore.add_argument("--show", action="store_true", help="open a browser tab")
    explore.add_argument(
        "--report", type=Path, default=None, help="validation JSON (default ARCHIVE/.nwb-ketamine/validation.json)"
    )
    explore.add_argument(
        "--cache", type=Path, default=None, help="cache of a URL's catalog (default ~/.cache/nwb-ketamine/remote)"
    )

    demo = _command(commands, "demo", _demo)
    demo.add_argument("dir", type=Path, nargs="?", default=Path("demo"), metavar="DIR", help="default ./demo")
    demo.add_argument("--port", type=_port, default=5006, help="port of the explorer (default 5006)")
    demo.add_argument("--show", action="store_true", help="open a browser tab")
    demo.add_argument("--no-explore", action="store_true", help="stop after the catalog")
    return parser


def main(argv=None) -> int:
    """Run one ``nwb-ketamine`` command.

    Parameters
    ----------
    argv
        The arguments after the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit code: 0 on success, 1 for an error a user can fix, 130 when interrupted.
    """
    args = build_parser().parse_args(argv)
    args.command_line = sys.argv[1:] if argv is None else None  # only the program itself may restart
    try:
        return args.run(args)
    except ModuleNotFoundError as exc:
        if not exc.name or exc.name.partition(".")[0] == "nwb_ketamine":
            raise  # one of our own modules: a bug, not a missing install
        extra = _EXTRAS.get(args.command, "all")
        print(
            f"error: the Python package {exc.name!r} is missing for '{args.command}'; install it with "
            f"pip install 'nwb-ketamine[{extra}]'",
            file=sys.stderr,
        )
        return 1
    except StudyFileError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s) found; fix them and run the command again.", file=sys.stderr)
        return 1
    except NwbKetamineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # ndx_drug_stress's DrugStressValueError: a value the extension does not allow
        if type(exc).__module__.partition(".")[0] != "ndx_drug_stress":
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        if exc.filename:
            print(f"error: {exc.filename}: {exc.strerror or exc}; check the path and its permissions", file=sys.stderr)
        else:
            print(f"error: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
