"""The demo behind ``make demo``: simulate → check → convert → validate → catalog → explore.

It runs ``nwb-ketamine demo DIR``. Rerunning reuses what is there: the simulated study is kept and
``convert`` skips sessions that are already converted and unchanged. The explorer is served on
http://127.0.0.1:5006 until Ctrl-C; with ``--no-explore`` (or the ``CI`` environment variable set) the demo
stops after the catalog so that unattended runs finish.
"""

import os
import sys
from pathlib import Path

from nwb_ketamine.cli import main as cli


def main(out: Path, explore: bool = True) -> int:
    """Run the demo in ``out``.

    Parameters
    ----------
    out
        The demo's folder (reused when rerun).
    explore
        Serve the explorer at the end.

    Returns
    -------
    int
        The exit code.
    """
    return cli(["demo", str(out), *([] if explore else ["--no-explore"])])


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--no-explore"]
    explore = "--no-explore" not in sys.argv[1:] and not os.environ.get("CI")
    sys.exit(main(Path(args[0] if args else "demo"), explore=explore))
