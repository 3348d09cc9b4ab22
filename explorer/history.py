"""The browser's Back and Forward buttons: the page follows the address they go back or forward to.

Design decision: Panel's ``pn.state.location`` writes the view's state into the address (``pushState``)
but does not listen to ``popstate``, so Back changed the address and left the view as it was. A tiny
JS component (:class:`HistoryListener`) sends the address's query to the server on every ``popstate``,
and the app applies it with :func:`~nwb_ketamine.explorer.urlstate.apply_query`, as when a page is
opened (values that do not fit are ignored, with a notice). The listener also refuses to push an
address that is already the current one: following Back, the app's own sync would push that same
address again, adding a history entry and losing the Forward history.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import panel as pn
import param
from panel.custom import JSComponent


class HistoryListener(JSComponent):
    """Calls ``on_history(search)`` with the address's query (``?view=...``) after each Back or Forward.

    Parameters
    ----------
    on_history
        Called on the server with the query string the browser went back or forward to.
    **params
        Passed to the component.
    """

    count = param.Integer(default=0, doc="How many Back/Forward moves the page has seen.")

    _esm = """
    export function render({ model }) {
      if (!window.__nwbKetamineHistory) {
        window.__nwbKetamineHistory = true
        const push = window.history.pushState.bind(window.history)
        window.history.pushState = (state, title, url) => {
          if (url != null && new URL(url, window.location.href).href === window.location.href) {
            return  // the current address again: no new entry (Forward would be lost)
          }
          push(state, title, url)
        }
      }
      const listener = () => model.send_msg({ search: window.location.search })
      window.addEventListener("popstate", listener)
      model.on("remove", () => window.removeEventListener("popstate", listener))
      const span = document.createElement("span")
      span.className = "nwb-ketamine-history"
      return span
    }
    """

    def __init__(self, on_history: Callable[[str], None], **params):
        super().__init__(width=0, height=0, margin=0, **params)
        self._on_history = on_history

    def _handle_msg(self, data) -> None:
        if not (isinstance(data, dict) and isinstance(data.get("search"), str)):
            return
        search = data["search"]
        doc = pn.state.curdoc
        if doc is not None and doc.session_context is not None:
            # Panel may dispatch this message outside the document's lock (when it is scheduled behind
            # pending widget changes); the views then set Bokeh models (the compare view's y range),
            # which raises there ("_pending_writes should be non-None ...") and stops the watchers before
            # the widgets follow (Back left the measure select on Firing rate). Bokeh runs a session's
            # next-tick callbacks with the lock held.
            doc.add_next_tick_callback(partial(self._apply, search))
        else:
            self._apply(search)

    def _apply(self, search: str) -> None:
        self.count += 1
        self._on_history(search)
