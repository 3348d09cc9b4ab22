"""Read a study file into plain data with the line of every field, and locate problems by file, line and path.

YAML's implicit timestamps are switched off so that a date-time keeps the offset the user wrote, and a
naive date-time can be reported instead of being silently read as local or UTC time.

The loader refuses what a study file never needs and what would let a small file take the process down,
each as a one-line :class:`~nwb_ketamine.errors.StudyFileError` naming the file and line:

- aliases (``*name``), refused while composing, before any Python object is built: a recursive alias
  would recurse forever, and a few kilobytes of nested aliases (an "alias bomb") expand to gigabytes.
  Anchors alone are harmless and allowed; merge keys (``<<: *base``) are aliases and refused too;
- nesting deeper than :data:`MAX_DEPTH` levels (a study file needs about six), which would exhaust
  Python's recursion limit;
- text that is not UTF-8, and mapping keys that are not scalars (``? [a, b]``).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from nwb_ketamine.errors import StudyFileError

#: A field's place in the file: keys and list indices from the top, e.g. ``("sessions", 3, "subject")``.
FieldPath = tuple


#: Deepest nesting of mappings and lists a study file may have (it needs about six levels).
MAX_DEPTH = 50


class _Refused(Exception):
    """A construct the loader refuses, with the 0-based line it is on."""

    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line, self.message = line, message


class _Loader(yaml.SafeLoader):
    """SafeLoader without implicit timestamps (dates kept as strings), aliases or deep nesting."""

    _depth = 0

    def compose_node(self, parent, index):
        """Compose one node, refusing an alias or nesting deeper than :data:`MAX_DEPTH` before it is built.

        Parameters
        ----------
        parent
            The node this one belongs to (PyYAML's resolver uses it).
        index
            Its key or position in ``parent``.

        Returns
        -------
        yaml.Node
        """
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _Refused(
                event.start_mark.line,
                f"YAML aliases (*{event.anchor}) are not allowed in a study file; write the value out in full",
            )
        if self._depth >= MAX_DEPTH:
            raise _Refused(
                self.peek_event().start_mark.line,
                f"nested more than {MAX_DEPTH} levels deep; a study file needs only a few",
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _to_python(node, path, lines, loader, filename):
    """Turn a composed YAML node into Python objects, recording each path's 1-based line."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                where = locate(filename, {path: key_node.start_mark.line + 1}, path)
                raise StudyFileError([f"{where}a mapping key must be a plain name, not a list or mapping"])
            key = loader.construct_object(key_node)
            if key in out:
                where = locate(filename, {**lines, path + (key,): key_node.start_mark.line + 1}, path + (key,))
                raise StudyFileError([f"{where}duplicate key {key!r}; keep one of them"])
            out[key] = _to_python(value_node, path + (key,), lines, loader, filename)
            lines[path + (key,)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(child, path + (i,), lines, loader, filename) for i, child in enumerate(node.value)]
    return loader.construct_object(node)


def read_study_file(path: str | Path) -> tuple[dict, dict]:
    """Parse a study file into plain data and a map from field path (a tuple) to line number.

    Parameters
    ----------
    path : str or Path
        The study file (YAML or JSON).

    Returns
    -------
    data : dict
        The file's content as plain Python objects; date-times stay strings.
    lines : dict
        The 1-based line of each field path, e.g. ``{("sessions", 0, "subject"): 42}``.

    Raises
    ------
    StudyFileError
        When the file is missing or is not valid YAML.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise StudyFileError([f"{path}: cannot read the study file ({exc.strerror}); check the path"]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise StudyFileError(
            [f"{path.name}:{line}: not UTF-8 text (byte {exc.start}: {raw[exc.start]:#04x}); save the file as UTF-8"]
        ) from None
    loader = _Loader(text)
    loader.name = path.name
    try:
        node = loader.get_single_node()
        if node is None:
            raise StudyFileError([f"{path.name}: the study file is empty; start from examples/study.yaml"])
        lines: dict[tuple, int] = {}
        data = _to_python(node, (), lines, loader, path.name)
    except _Refused as exc:
        raise StudyFileError([f"{path.name}:{exc.line + 1}: {exc.message}"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path.name}:{mark.line + 1}" if mark else path.name
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise StudyFileError([f"{where}: not valid YAML ({problem}); fix the syntax"]) from None
    finally:
        loader.dispose()
    return data, lines


def _format_path(path: FieldPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def locate(filename: str | None, lines: dict, path: FieldPath) -> str:
    """The ``file:LINE field.path: `` prefix of a problem at ``path`` (the nearest line the loader recorded).

    Parameters
    ----------
    filename : str or None
        The study file's name; None leaves it out (``line 42 field: ``).
    lines : dict
        The line map of :func:`read_study_file`.
    path : tuple
        The field's path, e.g. ``("sessions", 3, "subject")``.

    Returns
    -------
    str
        The prefix, ending in ``": "``.
    """
    line = None
    for end in range(len(path), -1, -1):
        line = lines.get(tuple(path[:end]))
        if line is not None:
            break
    prefix = f"{filename}:{line} " if filename else (f"line {line} " if line else "")
    return f"{prefix}{_format_path(path)}: "


class Problems:
    """Collects problems as one-line messages, each located by file, line and field path.

    Parameters
    ----------
    filename : str
        The study file's name, the start of each message.
    lines : dict
        The line map of :func:`read_study_file`.
    """

    def __init__(self, filename: str, lines: dict):
        self.filename, self.lines = filename, lines
        self.items: list[tuple[int, str]] = []

    def add(self, path: FieldPath, message: str) -> None:
        """Record a problem at ``path``.

        Parameters
        ----------
        path : tuple
            The field the problem is about.
        message : str
            What is wrong and how to fix it.
        """
        self.items.append((self.lines.get(tuple(path), 0), locate(self.filename, self.lines, path) + message))

    def where(self, path: FieldPath) -> str:
        """``study.yaml:LINE field.path`` of ``path``, for messages raised later (conversion).

        Parameters
        ----------
        path : tuple
            The field to locate.

        Returns
        -------
        str
            The location, without the trailing ``": "``.
        """
        return locate(self.filename, self.lines, path).removesuffix(": ")

    def sorted(self) -> list[str]:
        """The messages in file order (problems on one line keep the order they were found in), each once.

        Returns
        -------
        list of str
            One line per problem.
        """
        ordered = [message for _, message in sorted(self.items, key=lambda item: item[0])]
        return list(dict.fromkeys(ordered))  # a problem found by several checks is reported once
