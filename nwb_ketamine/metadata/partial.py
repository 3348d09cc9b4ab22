"""Read parsed study data into the file model even where it breaks it, so every rule can still run.

The structural problems are the schema's to report; here a field that does not validate becomes None
(a list keeps its length, an entry that is not a mapping is None), and the domain rules read the model's
typed fields and skip what is None. That is what lets one run report every problem at once.
"""

from __future__ import annotations

import types
from functools import cache
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

M = TypeVar("M", bound=BaseModel)


def partial(cls: type[M], raw: object) -> M | None:
    """The model of ``raw`` with every field that does not validate set to None.

    Parameters
    ----------
    cls : type
        The file model (a pydantic model) ``raw`` should follow.
    raw : object
        Parsed file data.

    Returns
    -------
    BaseModel or None
        None when ``raw`` is not a mapping. Its ``model_fields_set`` holds the fields the file gives.
    """
    if not isinstance(raw, dict):
        return None
    values: dict[str, Any] = {}
    for name, info in cls.model_fields.items():
        if name in raw:
            values[name] = _value(cls, name, info.annotation, raw[name])
        elif info.is_required():
            values[name] = None
    return cls.model_construct(_fields_set={name for name in raw if name in cls.model_fields}, **values)


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The models an annotation allows (``X | None``, a tagged union of models), or [] for a plain value."""
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in (Union, types.UnionType):
        options = [arg for arg in get_args(annotation) if arg is not type(None)]
    else:
        options = [annotation]
    models = [option for option in options if isinstance(option, type) and issubclass(option, BaseModel)]
    return models if len(models) == len(options) else []


def _choose(models: list[type[BaseModel]], raw: object) -> type[BaseModel] | None:
    """The model of a tagged union whose ``type`` is the entry's (the only model when there is one)."""
    if len(models) == 1:
        return models[0]
    tag = raw.get("type") if isinstance(raw, dict) else None
    for model in models:
        field = model.model_fields.get("type")
        if field is not None and tag in get_args(field.annotation):
            return model
    return None


def _value(cls: type[BaseModel], name: str, annotation: Any, raw: object) -> Any:
    models = _models(annotation)
    if models:
        model = _choose(models, raw)
        return partial(model, raw) if model else None
    options = [arg for arg in get_args(annotation) if arg is not type(None)]
    container = options[0] if get_origin(annotation) in (Union, types.UnionType) and len(options) == 1 else annotation
    if get_origin(container) in (list, tuple) and isinstance(raw, list):
        item = get_args(container)[0]
        item_models = _models(item)
        if item_models:
            items = [partial(model, x) if (model := _choose(item_models, x)) else None for x in raw]
            return items if get_origin(container) is list else tuple(items)
    if get_origin(container) is dict and isinstance(raw, dict):
        values = get_args(container)[1]
        return {key: _validated(values, value) for key, value in raw.items()}
    info = cls.model_fields[name]
    return _validated(Annotated[annotation, *info.metadata] if info.metadata else annotation, raw)


def _validated(annotation: Any, raw: object) -> Any:
    """``raw`` validated as ``annotation`` (with its constraints), or None when it is not valid."""
    try:
        return _adapter(annotation).validate_python(raw)
    except ValidationError:
        return None


@cache
def _adapter(annotation: Any) -> TypeAdapter:
    return TypeAdapter(annotation, config=ConfigDict(regex_engine="python-re"))
