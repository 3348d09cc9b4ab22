"""Generate ``study.schema.json`` beside this script from the study file's model.

The model (:mod:`nwb_ketamine.metadata.model`) states the study file's structure once; the JSON Schema
is generated from it, committed, and shipped inside the wheel for editors and other tools. A test
checks that the committed schema equals what this script writes. Run:
``python schemas/create_study_schema.py``.
"""

import json
from pathlib import Path

from nwb_ketamine.metadata.schema import study_schema

HERE = Path(__file__).resolve().parent


def schema_text() -> str:
    """The schema as it is committed.

    Returns
    -------
    str
        Indented JSON ending in a newline.
    """
    return json.dumps(study_schema(), indent=2, ensure_ascii=False) + "\n"


def main(folder: str | Path = HERE) -> None:
    """Write ``study.schema.json`` into ``folder``.

    Parameters
    ----------
    folder : str or Path
        Where to write (this script's folder by default).
    """
    (Path(folder) / "study.schema.json").write_text(schema_text(), encoding="utf-8")


if __name__ == "__main__":
    main()
