"""The committed spec and docs equal what their generators write now, the installed package ships the spec,
and the README's examples run."""

import re
import runpy
import subprocess
import sys
from pathlib import Path

import ndx_drug_stress
from ndx_drug_stress import vocabulary

ROOT = Path(__file__).resolve().parents[3]  # the ndx-drug-stress folder


def test_spec_is_up_to_date(tmp_path):
    code = "import runpy, sys; runpy.run_path(sys.argv[1])['main'](sys.argv[2])"
    script = ROOT / "src" / "spec" / "create_extension_spec.py"
    subprocess.run([sys.executable, "-c", code, str(script), str(tmp_path)], check=True)
    for name in ("ndx-drug-stress.namespace.yaml", "ndx-drug-stress.extensions.yaml"):
        assert (tmp_path / name).read_text() == (ROOT / "spec" / name).read_text(), (
            "run python src/spec/create_extension_spec.py and commit the YAML"
        )


def test_docs_are_up_to_date():
    make_docs = runpy.run_path(str(ROOT / "src" / "spec" / "make_docs.py"))
    assert (ROOT / "docs" / "format.md").read_text() == make_docs["format_reference"](), "run src/spec/make_docs.py"
    assert (ROOT / "docs" / "vocabulary.md").read_text() == make_docs["vocabulary_reference"](), (
        "run python src/spec/make_docs.py"
    )


def test_the_loaded_spec_is_the_committed_one():
    loaded = Path(ndx_drug_stress.NAMESPACE_PATH)
    assert loaded.name == "ndx-drug-stress.namespace.yaml"
    assert loaded.read_text() == (ROOT / "spec" / loaded.name).read_text()
    assert (loaded.parent / "ndx-drug-stress.extensions.yaml").read_text() == (
        ROOT / "spec" / "ndx-drug-stress.extensions.yaml"
    ).read_text()


def test_readme_examples_run(tmp_path, monkeypatch):
    """The README's Python blocks, in order, in one namespace: write a file, fix it with h5py, register a term."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(vocabulary, "_registered", {field: {} for field in vocabulary.FIELDS})
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    assert len(blocks) == 3
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    assert (tmp_path / "session.nwb").exists() and "intrathecal" in ndx_drug_stress.terms("route")
