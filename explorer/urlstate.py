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
first 10 s). Values that do not fit a parameter are ignored.
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


def _query_values(obj: param.Parameterized, names, args: dict) -> dict:
    """The values of ``names`` in the query ``args``, deserialised by ``obj``'s parameters (misfits left out)."""
    values = {}
    for name in names:
        raw = args.get(name)
        if not raw:
            continue
        text = raw[0].decode("utf-8", "replace") if isinstance(raw[0], bytes) else str(raw[0])
        try:
            values[name] = _deserialize(obj.param[name], text)
        except Exception:
            continue
    return values


def _deserialize(parameter: param.Parameter, text: str):
    # param's Number.deserialize returns the text unchanged (JSON numbers need no decoding)
    if isinstance(parameter, param.Boolean):
        return {"true": True, "false": False}[text.strip().lower()]
    if isinstance(parameter, param.List):
        values = json.loads(text)
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ValueError(f"{text!r} is not a list of labels")
        return values
    if isinstance(parameter, param.Integer):
        return int(text)
    if isinstance(parameter, param.Number):
        value = float(text)
        if not math.isfinite(value):
            raise ValueError(f"{text!r} is not a finite number")
        return value
    return parameter.deserialize(text)


def _update_each(obj: param.Parameterized, values: dict) -> None:
    for name, value in values.items():
        try:
            obj.param.update(**{name: value})
        except Exception:
            continue


def apply_query(app: ExplorerApp, args: dict) -> None:
    """Set the initial state from the request's query arguments (values that do not fit are ignored).

    The detail views' values are set before the app's view and keys, so the first build uses them, and
    only for the unit or file the URL names.

    Parameters
    ----------
    app : ExplorerApp
        The new session's app.
    args : dict
        The request's query arguments (name → list of values, as bytes or text).
    """
    compare = _query_values(app.compare, COMPARE_URL_PARAMS, args)
    for view, mapping in (("paired", PAIRED_URL_PARAMS), ("timecourse", TIMECOURSE_URL_PARAMS)):
        renamed = {name: args[url] for name, url in mapping.items() if url in args}
        if renamed:  # app.timecourse is built on first access: only when the URL names its parameters
            obj = getattr(app, view)
            _update_each(obj, _query_values(obj, list(mapping), renamed))
    detail = _query_values(app.detail, [n for names in DETAIL_URL_PARAMS.values() for n in names], args)
    own = _query_values(app, APP_URL_PARAMS, args)
    _update_each(app.compare, compare)
    _update_each(app.detail, detail)
    for view, names in DETAIL_URL_PARAMS.items():
        if any(name in detail for name in names):
            app.detail_keys[view] = own.get(DETAIL_KEYS[view], "")
    _update_each(app, own)
