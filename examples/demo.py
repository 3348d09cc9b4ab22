"""The demo behind ``make demo``: runs every pipeline step that exists today, in order.

Steps that have not landed yet are listed, not faked. When the ``demo`` subcommand lands this
script becomes ``nwb-ketamine demo DIR``.
"""

import sys
from pathlib import Path

from nwb_ketamine.cli import main as cli


def run(*args: str) -> None:
    print("$ nwb-ketamine", " ".join(args), flush=True)
    code = cli(list(args))
    if code:
        raise SystemExit(code)


def main(out: Path) -> None:
    study = out / "raw" / "study.yaml"
    if study.exists():
        print(f"reusing the simulated study in {study.parent} (delete {out} to simulate afresh)")
    else:
        run("simulate", str(study.parent), "--size", "small")
    run("check", str(study))
    print("\nNot yet in the demo (see the open issues): convert, validate, catalog, explore.")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "demo"))
