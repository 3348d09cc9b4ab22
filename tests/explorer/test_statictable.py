"""The explorer's read-only HTML tables: what a reader sees of a frame, and that it changes with the frame."""

import numpy as np
import pandas as pd

from nwb_ketamine.explorer.statictable import CSS, StaticTable, table_html


def test_the_table_shows_every_value_titled_and_escaped():
    frame = pd.DataFrame({"group_a": ["LHb <ket>", "CA1"], "p": [0.0123, np.nan], "n": [5, 7], "ok": [True, None]})
    text = table_html(frame, {"group_a": "Group", "p": "p (Mann–Whitney)"}, {}, None)
    assert (
        '<th data-field="group_a">Group</th>' in text
        and '<th data-field="p" class="number">p (Mann–Whitney)</th>' in text
    )
    assert '<th data-field="n" class="number">n</th>' in text  # no title: the column's name; numbers right
    assert "LHb &lt;ket&gt;" in text and "<ket>" not in text
    assert '<td data-field="p" class="number">0.0123</td>' in text  # as the frame holds it, no rounding
    assert '<td data-field="p" class="number"></td>' in text  # missing: empty
    assert '<td data-field="n" class="number">7</td>' in text
    assert '<td data-field="ok">True</td>' in text and '<td data-field="ok"></td>' in text
    assert text.count("<tr>") == 3  # the header and both rows; the index is left out


def test_widths_wrap_scroll_and_height():
    frame = pd.DataFrame({"field": ["a"], "value": ["a long value " * 20], "note": ["x"]})
    text = table_html(frame, {}, {"note": 320}, 200, wrap=["value"])
    assert '<div class="static-table" style="max-height:200px">' in text and '<table class="fill">' in text
    assert '<td data-field="note" class="wrap" style="min-width:320px;max-width:320px">x</td>' in text
    assert '<td data-field="value" class="wrap">' in text and '<td data-field="field">a</td>' in text
    assert ".static-table { overflow: auto;" in CSS and "position: sticky" in CSS  # scrolls, header in view


def test_the_pane_follows_the_frame_and_visibility():
    table = StaticTable(pd.DataFrame({"a": [1]}))
    pane = table.__panel__()
    assert ">1</td>" in pane.object
    table.value = pd.DataFrame({"a": [2, 3]})
    assert ">2</td>" in pane.object and ">3</td>" in pane.object and ">1</td>" not in pane.object
    table.titles = {"a": "Amplitude (pA)"}
    assert ">Amplitude (pA)</th>" in pane.object
    table.visible = False
    assert pane.visible is False
    assert "<tbody></tbody>" in StaticTable().html()  # empty: a header-less, row-less table
