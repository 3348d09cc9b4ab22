"""The explorer's state in the URL: which parameters the query string keeps, and reading them from a request.

Design decision: **the URL is the state.** ``view``, ``cell``, ``unit`` and ``file`` of the app, the
compare view's measure, plot kind, grouping, facets and filters, the paired view's measure and facets, the
time-course view's measure, x axis and filters (``tc_``-prefixed, so they do not clash with the compare
view's; the view is built only when opened or named by the URL), the unit view's burst rule
(``unit_onset_isi_ms``, ...) and the traces view's window (``traces_start_s``, ``traces_window_s``,
``traces_group``) are synced to the query string (``pn.state.location.sync``), so a view can be shared
by copying the address. Detail views are rebuilt whenever the app's view or key changes, so their URL
parameters live in one :class:`DetailState` that is synced once and linked to each new detail view;
opening another unit or file starts from that view's own values (the rule stored in the file, the
first 10 s). Values that do not fit a parameter (not a number, not one of its choices, out of its
bounds, a window after the recording's end) are ignored, and the page says so in one line above the view
(:attr:`ExplorerApp.url_notices`), never with an internal error.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING

import param

from nwb_ketamine.explorer.factors import FACTORS

if TYPE_CHECKING:
    from nwb_ketamine.explorer.app import ExplorerApp

COMPARE_URL_PARAMS = ["measure", "plot", "x", "colour", "facet_row", "facet_col", "normalise", "accepted_only",
                      "mixed_model", "epoch", *[f"filter_{factor}" for factor in FACTORS]]  # fmt: skip
#: The paired view's parameters → their names in the URL.
PAIRED_URL_PARAMS = {"measure": "paired_measure", "facet_row": "paired_row", "facet_col": "paired_col",
                     "accepted_only": "paired_accepted_only"}  # fmt: skip
#: The time-course view's parameters → their names in the URL.
TIMECOURSE_URL_PARAMS = {"measure": "tc_measure", "x": "tc_x", "accepted_only": "tc_accepted_only",
                         **{f"filter_{factor}": f"tc_filter_{factor}" for factor in FACTORS}}  # fmt: skip
APP_URL_PARAMS = ["cell", "unit", "file", "view"]
#: Detail view → {URL name (a :class:`DetailState` parameter): the view's parameter}.
DETAIL_URL_PARAMS = {
    "unit": {"unit_onset_isi_ms": "onset_isi_ms", "unit_end_isi_ms": "end_isi_ms",
             "unit_min_silence_ms": "min_silence_ms", "unit_min_spikes": "min_spikes"},
    "traces": {"traces_start_s": "start_s", "traces_window_s": "window_s", "traces_group": "group"},
}  # fmt: skip
#: Detail view → the app parameter holding its key.
DETAIL_KEYS = {"unit": "unit", "traces": "file"}


class DetailState(param.Parameterized):
    """The detail views' parameters as kept in the URL; None: the view's own value."""

    unit_onset_isi_ms = param.Number(default=None, allow_None=True, doc="Unit view: burst onset ISI (ms).")
    unit_end_isi_ms = param.Number(default=None, allow_None=True, doc="Unit view: burst end ISI (ms).")
    unit_min_silence_ms = param.Number(default=None, allow_None=True, doc="Unit view: silence before a burst (ms).")
    unit_min_spikes = param.Integer(default=None, allow_None=True, doc="Unit view: fewest spikes in a burst.")
    traces_start_s = param.Number(default=None, allow_None=True, doc="Traces view: window start (s).")
    traces_window_s = param.Number(default=None, allow_None=True, doc="Traces view: window length (s).")
    traces_group = param.String(default=None, allow_None=True, doc="Traces view: electrode group shown.")


def _query_values(obj: param.Parameterized, names, args: dict, ignored: list[str]) -> dict:
    """The values of ``names`` in the query ``args``, deserialised by ``obj``'s parameters.

    A value that does not deserialise is left out and noted in ``ignored`` (``name=value (why)``).
    """
    values = {}
    for name in names:
        raw = args.get(name)
        if not raw:
            continue
        text = raw[0].decode("utf-8", "replace") if isinstance(raw[0], bytes) else str(raw[0])
        try:
            values[name] = _deserialize(obj.param[name], text)
        except Exception as exc:
            ignored.append(misfit(name, text, exc))
    return values


def why_not(parameter: param.Parameter, exc: Exception) -> str:
    """Why a value does not fit ``parameter``, in words (its choices or bounds), not param's message.

    Parameters
    ----------
    parameter : param.Parameter
        The parameter that refused the value.
    exc : Exception
        What it raised.

    Returns
    -------
    str
    """
    if isinstance(parameter, param.Selector) and parameter.objects:
        choices = list(parameter.objects.values() if isinstance(parameter.objects, dict) else parameter.objects)
        shown = ", ".join(map(str, choices[:8])) + (", ..." if len(choices) > 8 else "")
        return f"not one of {shown}"
    if isinstance(parameter, param.Number) and parameter.bounds:
        low, high = parameter.bounds
        return f"outside {'-inf' if low is None else low} to {'inf' if high is None else high}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def misfit(name: str, value, reason) -> str:
    """One notice of a URL value that was ignored: ``name=value (reason)``, cut to a readable length.

    Parameters
    ----------
    name : str
        The URL parameter.
    value
        Its value (text, or the deserialised value).
    reason
        Why it does not fit (an exception's first line, or text).

    Returns
    -------
    str
    """
    shown = str(value)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    why = str(reason).splitlines()[0] if str(reason) else type(reason).__name__
    why = why if len(why) <= 120 else why[:117] + "..."
    return f"{name}={shown!r} ({why})"


def _deserialize(parameter: param.Parameter, text: str):
    # param's Number.deserialize returns the text unchanged (JSON numbers need no decoding)
    if isinstance(parameter, param.Boolean):
        flag = {"true": True, "false": False}.get(text.strip().lower())
        if flag is None:
            raise ValueError("not true or false")
        return flag
    if isinstance(parameter, param.List):
        try:
            values = json.loads(text)
        except ValueError:
            values = None
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ValueError('not a list of labels such as ["LHb"]')
        return values
    if isinstance(parameter, param.Integer):
        try:
            return int(text)
        except ValueError:
            raise ValueError("not a whole number") from None
    if isinstance(parameter, param.Number):
        try:
            value = float(text)
        except ValueError:
            raise ValueError("not a number") from None
        if not math.isfinite(value):
            raise ValueError("not a finite number")
        return value
    return parameter.deserialize(text)


def _update_each(obj: param.Parameterized, values: dict, ignored: list[str], url_names: dict | None = None) -> None:
    # Only a value that does not fit (param raises ValueError or TypeError) becomes a notice: any other
    # error, e.g. from a view's watcher, is a defect and must surface, not read as a bad URL value.
    for name, value in values.items():
        try:
            obj.param.update(**{name: value})
        except (ValueError, TypeError) as exc:
            ignored.append(misfit((url_names or {}).get(name, name), value, why_not(obj.param[name], exc)))


def apply_query(app: ExplorerApp, args: dict) -> list[str]:
    """Set the initial state from the request's query arguments (values that do not fit are ignored).

    The detail views' values are set before the app's view and keys, so the first build uses them, and
    only for the unit or file the URL names.

    Parameters
    ----------
    app : ExplorerApp
        The new session's app.
    args : dict
        The request's query arguments (name → list of values, as bytes or text).

    Returns
    -------
    list of str
        One notice per ignored value (also shown by the app above its view).
    """
    ignored: list[str] = []
    compare = _query_values(app.compare, COMPARE_URL_PARAMS, args, ignored)
    for view, mapping in (("paired", PAIRED_URL_PARAMS), ("timecourse", TIMECOURSE_URL_PARAMS)):
        renamed = {name: args[url] for name, url in mapping.items() if url in args}
        if renamed:  # app.paired and app.timecourse are built on first access: only when the URL names them
            obj = getattr(app, view)
            _update_each(obj, _query_values(obj, list(mapping), renamed, ignored), ignored, mapping)
    detail = _query_values(app.detail, [n for names in DETAIL_URL_PARAMS.values() for n in names], args, ignored)
    own = _query_values(app, APP_URL_PARAMS, args, ignored)
    _update_each(app.compare, compare, ignored)
    _update_each(app.detail, detail, ignored)
    for view, names in DETAIL_URL_PARAMS.items():
        if any(name in detail for name in names):
            app.detail_keys[view] = own.get(DETAIL_KEYS[view], "")
    app.url_notices.extend(ignored)  # before the view is set: its first build adds its own
    _update_each(app, own, app.url_notices)
    app.show_url_notices()
    return app.url_notices
