"""The generated docs and the study file's schema must match what their generators write now (the extension's
spec and docs are checked by the ndx-drug-stress package's own tests)."""

import subprocess
import sys

from tests.conftest import ROOT


def test_docs_are_up_to_date():
    sys.path.insert(0, str(ROOT / "schemas"))
    try:
        import make_docs
    finally:
        sys.path.pop(0)
    assert (ROOT / "docs" / "study-file.md").read_text() == make_docs.study_file_reference()
    assert (ROOT / "docs" / "analysis.md").read_text() == make_docs.analysis_reference()


def test_study_schema_is_up_to_date(tmp_path):
    script = ROOT / "schemas" / "create_study_schema.py"
    code = "import runpy, sys; runpy.run_path(sys.argv[1])['main'](sys.argv[2])"
    subprocess.run([sys.executable, "-c", code, str(script), str(tmp_path)], check=True)
    committed = (ROOT / "schemas" / "study.schema.json").read_text(encoding="utf-8")
    assert (tmp_path / "study.schema.json").read_text(encoding="utf-8") == committed, (
        "run python schemas/create_study_schema.py and commit the schema"
    )
