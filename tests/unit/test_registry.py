"""The converter registry covers every session type and sorting format the study file allows."""

import json
from importlib.resources import files

from nwb_ketamine.converters.abf import AbfSliceConverter
from nwb_ketamine.converters.invivo import InVivoConverter
from nwb_ketamine.converters.registry import CONVERTERS, SORTING_FORMATS, converter_class

SCHEMA_PATH = files("nwb_ketamine.schemas") / "study.schema.json"


def _enum(schema, *path):
    """The ``enum`` found by walking ``path`` through the schema's definitions and properties."""
    node = schema
    for key in path:
        node = node[key]
    return set(node["enum"])


def test_every_session_type_has_a_converter():
    assert converter_class("slice") is AbfSliceConverter and converter_class("invivo") is InVivoConverter
    schema = json.loads(SCHEMA_PATH.read_text())
    types = {
        definition["properties"]["type"]["const"]
        for definition in schema["$defs"].values()
        if "type" in definition.get("properties", {}) and "const" in definition["properties"]["type"]
    }
    assert types == set(CONVERTERS)
    assert set(InVivoConverter.RUN_OPTIONS) <= {"include_raw", "workers"} and AbfSliceConverter.RUN_OPTIONS == ()


def test_the_study_schema_allows_exactly_the_registered_sorting_formats():
    schema = json.loads(SCHEMA_PATH.read_text())
    sortings = [
        d
        for d in schema["$defs"].values()
        if "format" in d.get("properties", {}) and "enum" in d["properties"]["format"]
    ]
    assert any(_enum(d, "properties", "format") == set(SORTING_FORMATS) for d in sortings), sortings
