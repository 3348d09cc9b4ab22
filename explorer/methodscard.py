"""The methods paragraph's card: shown in a view, written only while open, and offered as a Markdown file.

Each overview view (compare, paired, time course) has one: the view gives the function that writes its
paragraph (:func:`~nwb_ketamine.explorer.methods.methods_markdown` with the view's rows and statistics),
the card writes it when opened and again when the view changes while it is open (writing it reads every
file's stored parameters from the catalog: not worth doing for a closed card).
"""

from __future__ import annotations

import io
from collections.abc import Callable

import panel as pn

from nwb_ketamine.explorer.provenance import provenance
from nwb_ketamine.explorer.store import ArchiveStore

TITLE = "Methods paragraph (from the parameters stored in the files and the rows shown)"


class MethodsCard:
    """A collapsed card with the paragraph ``write`` makes and its Markdown download.

    Parameters
    ----------
    store : ArchiveStore
        The archive (the file's footer names its catalog and hash).
    write : callable
        Returns the paragraph as Markdown.
    filename : str
        The download's file name.
    """

    def __init__(self, store: ArchiveStore, write: Callable[[], str], filename: str = "methods.md") -> None:
        self.store = store
        self.write = write
        self.pane = pn.pane.Markdown("", sizing_mode="stretch_width", name="methods")
        self.card = pn.Card(
            pn.widgets.FileDownload(callback=self.file, filename=filename, label="Methods (Markdown)"),
            self.pane,
            title=TITLE,
            collapsed=True,
            sizing_mode="stretch_width",
        )
        self.card.param.watch(lambda _: self.update(), "collapsed")

    def update(self) -> None:
        """Write the paragraph again if the card is open (the view calls this after each change)."""
        if not self.card.collapsed:
            self.pane.object = self.write()

    def file(self) -> io.StringIO:
        """The paragraph as a Markdown file, ending with the explorer's version and the catalog's hash.

        Returns
        -------
        io.StringIO
        """
        stamp = provenance(self.store)
        footer = (
            f"\n---\nWritten by the nwb-ketamine {stamp['nwb_ketamine_version']} explorer from the catalog "
            f"{stamp['catalog_source']} (sha256 {stamp['catalog_sha256']}).\n"
        )
        return io.StringIO(self.write() + footer)
