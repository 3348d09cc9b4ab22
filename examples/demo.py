"""The demo behind ``make demo``: runs every pipeline step that exists today, in order.

Steps that have not landed yet are listed, not faked. When the ``demo`` subcommand lands this
script becomes ``nwb-ketamine demo DIR``.
"""

import sys
from pathlib import Path

from nwb_ketamine.cli import main as cli

HERE = Path(__file__).resolve().parent


def run(*args: str) -> None:
    print("$ nwb-ketamine", " ".join(args), flush=True)
    code = cli(list(args))
    if code:
        raise SystemExit(code)


def main(out: Path) -> None:
    sys.path.insert(0, str(HERE))
    import make_example_raw

    make_example_raw.main()
    run("check", str(HERE / "study.yaml"))
    print(f"\nNot yet in the demo (see the open issues): simulate {out}, convert, validate, catalog, explore.")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "demo"))
