"""The demo behind ``make demo``: simulate → convert → validate → catalog (→ explore, when it lands).

Steps that have not landed yet are listed, not faked. Rerunning reuses what is there: the simulated study
is kept and ``convert`` skips sessions that are already converted and unchanged.
"""

import sys
from pathlib import Path

from nwb_ketamine.cli import main as cli


def run(*args: str, allowed=(0,)) -> int:
    print("\n$ nwb-ketamine", " ".join(args), flush=True)
    code = cli(list(args))
    if code not in allowed:
        raise SystemExit(code)
    return code


def main(out: Path) -> None:
    study = out / "raw" / "study.yaml"
    archive = out / "archive"
    if study.exists():
        print(f"reusing the simulated study in {study.parent} (delete {out} to simulate afresh)")
    else:
        run("simulate", str(study.parent), "--size", "small")
    run("check", str(study))
    run("convert", str(study), str(archive))
    run("validate", str(archive), "--json", str(out / "validation.json"))
    run("catalog", str(archive))
    print(f"\nThe archive is in {archive}; the catalog tables in {archive / '.nwb-ketamine' / 'catalog'}.")
    print("Not yet in the demo (see the open issues): explore.")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "demo"))
