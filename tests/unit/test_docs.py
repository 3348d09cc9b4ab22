"""The generated docs, the extension YAML and the study file's schema must match what their generators write now."""

import subprocess
import sys

from tests.conftest import ROOT


def test_docs_are_up_to_date():
    sys.path.insert(0, str(ROOT / "schemas"))
    try:
        import make_docs
    finally:
        sys.path.pop(0)
    assert (ROOT / "docs" / "extension.md").read_text() == make_docs.extension_reference()
    assert (ROOT / "docs" / "study-file.md").read_text() == make_docs.study_file_reference()
    assert (ROOT / "docs" / "analysis.md").read_text() == make_docs.analysis_reference()


def test_extension_spec_is_up_to_date(tmp_path):
    script = ROOT / "schemas" / "create_extension_spec.py"
    before = {p.name: p.read_text() for p in (ROOT / "schemas").glob("ndx-drug-stress.*.yaml")}
    code = "import runpy, sys; runpy.run_path(sys.argv[1])['main'](sys.argv[2])"
    subprocess.run([sys.executable, "-c", code, str(script), str(tmp_path)], check=True)
    after = {p.name: p.read_text() for p in tmp_path.glob("ndx-drug-stress.*.yaml")}
    assert after == before, "run python schemas/create_extension_spec.py and commit the YAML"


def test_study_schema_is_up_to_date(tmp_path):
    script = ROOT / "schemas" / "create_study_schema.py"
    code = "import runpy, sys; runpy.run_path(sys.argv[1])['main'](sys.argv[2])"
    subprocess.run([sys.executable, "-c", code, str(script), str(tmp_path)], check=True)
    committed = (ROOT / "schemas" / "study.schema.json").read_text(encoding="utf-8")
    assert (tmp_path / "study.schema.json").read_text(encoding="utf-8") == committed, (
        "run python schemas/create_study_schema.py and commit the schema"
    )
