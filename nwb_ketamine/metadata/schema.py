"""The study file's JSON Schema, generated from the model, and its errors phrased for a person editing YAML.

The schema is the study file's structural check (types, required fields, enumerations, patterns). It is
generated from :class:`~nwb_ketamine.metadata.model.StudyFile` in the shape a JSON Schema validator
reports well on: optional fields are absent rather than null, a union of plain types is one ``type``
list, and sessions pick their schema by ``type`` with ``if``/``then``, so that a problem in a session is
reported on its field rather than as "not valid under any of the given schemas".
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue

from nwb_ketamine.metadata.fields import ID_MARK, ID_SCHEMA
from nwb_ketamine.metadata.loader import Problems
from nwb_ketamine.metadata.model import StudyFile

SCHEMA_ID = "https://nwb-ketamine.example.org/schemas/study.schema.json"


class _Generator(GenerateJsonSchema):
    """pydantic's JSON Schema generator, adapted to a file where optional fields are left out."""

    def field_title_should_be_set(self, schema) -> bool:  # numpydoc ignore=PR01
        """No titles: the field names say it."""
        return False

    def default_schema(self, schema: Any) -> JsonSchemaValue:  # numpydoc ignore=PR01
        """An optional field is left out, not null: ``X | None = None`` is written as ``X``."""
        inner = schema["schema"]
        if schema.get("default", ...) is None and inner["type"] == "nullable":
            return self.generate_inner(inner["schema"])
        return super().default_schema(schema)

    def nullable_schema(self, schema: Any) -> JsonSchemaValue:  # numpydoc ignore=PR01
        """A nullable plain type is one ``type`` list."""
        inner = self.generate_inner(schema["schema"])
        if set(inner) == {"type"}:
            kinds = inner["type"] if isinstance(inner["type"], list) else [inner["type"]]
            return {"type": [*kinds, "null"]}
        return super().nullable_schema(schema)

    def union_schema(self, schema: Any) -> JsonSchemaValue:  # numpydoc ignore=PR01
        """A union of plain types is one ``type`` list."""
        out = super().union_schema(schema)
        options = out.get("anyOf", [])
        if options and all(set(option) == {"type"} and isinstance(option["type"], str) for option in options):
            return {"type": [option["type"] for option in options]}
        return out

    def tagged_union_schema(self, schema: Any) -> JsonSchemaValue:  # numpydoc ignore=PR01
        """Entries picked by their ``type``: ``if``/``then`` per tag, so errors name the entry's fields."""
        tags = list(schema["choices"])
        return {
            "type": "object",
            "required": ["type"],
            "properties": {"type": {"enum": tags, "description": "The kind of entry: " + " or ".join(tags) + "."}},
            "allOf": [
                {"if": {"properties": {"type": {"const": tag}}}, "then": self.generate_inner(choice)}
                for tag, choice in schema["choices"].items()
            ],
        }


#: The order of keywords in the schema, which is the order a validator reports a value's problems in:
#: its type before the allowed values, an object's required fields before the problems of its fields.
_KEY_ORDER = {key: i for i, key in enumerate(
    ["$ref", "type", "const", "enum", "additionalProperties", "required", "minItems", "minLength", "minimum",
     "exclusiveMinimum", "maximum", "pattern", "properties", "items", "anyOf", "allOf"]
)}  # fmt: skip


def _untitled(node: Any) -> Any:
    """The schema without pydantic's titles (property names are kept, whatever they are), ids as references."""
    if isinstance(node, list):
        return [_untitled(item) for item in node]
    if not isinstance(node, dict):
        return node
    if node.get(ID_MARK):  # an id field refers to the one definition of an id
        return {"$ref": "#/$defs/id", **{k: v for k, v in node.items() if k not in (*ID_SCHEMA, ID_MARK, "title")}}
    out = {}
    for key, value in node.items():
        if key == "title" or (key == "type" and ("enum" in node or "const" in node)):  # the choices say it
            continue
        if key in ("properties", "$defs"):
            out[key] = {name: _untitled(sub) for name, sub in value.items()}
        elif key in ("examples", "default", "const", "enum"):
            out[key] = value
        else:
            out[key] = _untitled(value)
    return dict(sorted(out.items(), key=lambda item: _KEY_ORDER.get(item[0], len(_KEY_ORDER))))


@cache
def study_schema() -> dict:
    """The study file's JSON Schema (draft 2020-12), generated from the model.

    Returns
    -------
    dict
        The schema; definitions are named as the models' titles (``subject``, ``abf_file``...).
    """
    schema = StudyFile.model_json_schema(schema_generator=_Generator)
    names = {key: sub["title"] for key, sub in schema["$defs"].items()}
    text = json.dumps(schema)
    for key, name in names.items():
        text = text.replace(f'"#/$defs/{key}"', f'"#/$defs/{name}"')
    renamed = json.loads(text)
    renamed["$defs"] = {"id": ID_SCHEMA, **{names[key]: sub for key, sub in renamed["$defs"].items()}}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": schema["title"],
        **_untitled(renamed),
    }


def _message(error: jsonschema.ValidationError) -> tuple[tuple, str]:
    """Turn a jsonschema error into (field path, message) phrased for a person editing YAML."""
    path = tuple(error.absolute_path)
    kind, value, schema = error.validator, error.instance, error.schema
    if kind == "required":
        missing = [name for name in error.validator_value if name not in value]
        return path + (missing[0],), "required field is missing"
    if kind == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        extra = sorted(set(value) - set(allowed))
        return path + (extra[0],), f"unknown field (allowed here: {', '.join(allowed)})"
    if kind == "type":
        expected = error.validator_value
        hint = "; quote it" if expected == "string" and isinstance(value, int | float) else ""
        return path, f"{value!r} is a {type(value).__name__}, expected {expected}{hint}"
    if kind in ("enum", "const"):
        choices = error.validator_value if kind == "enum" else [error.validator_value]
        return path, f"{value!r} is not one of {', '.join(map(str, choices))}"
    if kind == "pattern":
        return path, f"{value!r} is not valid: {schema.get('description', 'see schemas/study.schema.json')}"
    if kind == "anyOf" and all("required" in option for option in error.validator_value):
        names = " or ".join(option["required"][0] for option in error.validator_value)
        return path, f"give {names}"
    if kind == "minItems":
        return path, f"needs at least {error.validator_value} item(s)"
    if kind == "minimum":
        return path, f"{value!r} is below the minimum {error.validator_value}"
    if kind == "exclusiveMinimum":
        return path, f"{value!r} is not above {error.validator_value}; give a positive value"
    if kind == "maximum":
        return path, f"{value!r} is above the maximum {error.validator_value}"
    return path, error.message


def _flatten(errors):
    """Flatten errors, preferring the most specific ones (if/then and allOf wrap their children)."""
    for error in errors:
        if error.validator in ("allOf", "then", "if") and error.context:
            yield from _flatten(error.context)
        else:
            yield error


def check_structure(problems: Problems, data: dict) -> None:
    """Report every structural problem of the parsed file: types, required fields, enumerations, patterns.

    Parameters
    ----------
    problems : Problems
        Where to report.
    data : dict
        The parsed study file.
    """
    validator = jsonschema.Draft202012Validator(study_schema())
    for error in _flatten(validator.iter_errors(data)):
        problems.add(*_message(error))
