"""Figures for a paper: PDF and SVG with their text as text, PNG at 300 dpi, the size in mm, a colour-blind-safe
palette; for the compare and time-course views, and the cell, unit and raw traces views."""

import re
import xml.etree.ElementTree as ET
import zlib

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from nwb_ketamine.explorer.cell import CellView
from nwb_ketamine.explorer.compare import CompareView
from nwb_ketamine.explorer.paperfigure import FIGURE_PRESETS, PALETTE
from nwb_ketamine.explorer.timecourse import TimeCourseView
from nwb_ketamine.explorer.traces import TracesView
from nwb_ketamine.explorer.unit import UnitView
from nwb_ketamine.explorer.unitfigure import RASTERISE_ABOVE, UnitFigure, render_unit_figure

SVG = "{http://www.w3.org/2000/svg}"
#: Okabe & Ito's eight colours and a grey (colour-blind safe).
OKABE_ITO = {"#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000", "#999999"}


def svg_texts(data: bytes) -> list[str]:
    """The text of every <text> element of an SVG (with its <tspan>s)."""
    root = ET.fromstring(data)
    return ["".join(element.itertext()) for element in root.iter(f"{SVG}text")]


def _pdf_string(raw: bytes) -> bytes:
    """A PDF literal string's bytes, its escapes undone."""
    out, i = bytearray(), 0
    while i < len(raw):
        c = raw[i]
        if c == 0x5C:  # backslash
            nxt = raw[i + 1 : i + 2]
            octal = re.match(rb"[0-7]{1,3}", raw[i + 1 : i + 4])
            if octal:
                out.append(int(octal.group(), 8))
                i += 1 + len(octal.group())
                continue
            out += {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}.get(nxt, nxt)
            i += 2
            continue
        out.append(c)
        i += 1
    return bytes(out)


def pdf_texts(data: bytes) -> list[str]:
    """The text shown by each BT … ET block of a PDF's content streams (matplotlib's Type 42 fonts: UTF-16BE)."""
    texts = []
    for stream in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            content = zlib.decompress(stream.group(1))
        except zlib.error:
            continue
        for block in re.finditer(rb"BT(.*?)ET", content, re.S):
            strings = re.findall(rb"\(((?:\\.|[^\\)])*)\)", block.group(1), re.S)
            texts.append(b"".join(_pdf_string(s) for s in strings).decode("utf-16-be", errors="replace"))
    return texts


@pytest.fixture(scope="module")
def views(synthetic):
    return CompareView(synthetic), TimeCourseView(synthetic)


def test_svg_keeps_the_axis_labels_and_region_names_as_text(views):
    for view in views:
        texts = svg_texts(view.figure_bytes("svg").getvalue())
        assert view.value_label in texts, texts  # the y axis label, one <text> element
        words = " ".join(" ".join(texts).split())  # a long tick label is wrapped onto lines, one element each
        assert "LHb — lateral habenula (CCF: LH)" in words, texts
        assert not re.search(rb"<path[^>]*id=\"DejaVuSans", view.figure_bytes("svg").getvalue())  # no glyph paths


def test_pdf_keeps_the_axis_labels_as_text(views):
    for view in views:
        data = view.figure_bytes("pdf").getvalue()
        assert data.startswith(b"%PDF") and b"/Subtype /Type3" not in data  # TrueType (Type 42), not Type 3 glyphs
        assert b"/CIDFontType2" in data or b"/Subtype /TrueType" in data
        texts = pdf_texts(data)
        assert view.value_label in texts, texts
        assert "LHb — lateral habenula (CCF: LH)" in " ".join(" ".join(texts).split()), texts


def test_png_is_300_dpi_at_the_chosen_size_in_mm(views):
    for view in views:
        for width in FIGURE_PRESETS.values():  # single (89 mm) and double (183 mm) column
            view.param.update(figure_width_mm=width, figure_height_mm=100.0)
            image = Image.open(view.figure_bytes("png"))
            assert image.info["dpi"] == pytest.approx((300, 300), abs=0.01)
            assert image.size == (round(width / 25.4 * 300), round(100 / 25.4 * 300))
        view.figure_width_mm = 120.0  # a custom width
        width_pt = ET.fromstring(view.figure_bytes("svg").getvalue()).get("width")
        assert float(width_pt.removesuffix("pt")) == pytest.approx(120 / 25.4 * 72)
        view.param.update(figure_width_mm=FIGURE_PRESETS["double column (183 mm)"], figure_height_mm=110.0)


def test_the_download_row_offers_pdf_svg_png_and_the_column_presets(synthetic):
    view = CompareView(synthetic)
    buttons, size = view.downloads.objects
    assert [b.filename for b in buttons.objects][-3:] == ["compare.pdf", "compare.svg", "compare.png"]
    preset = size.objects[1]
    assert preset.options == ["single column (89 mm)", "double column (183 mm)", "custom"]
    assert preset.value == "double column (183 mm)"
    preset.value = "single column (89 mm)"
    assert view.figure_width_mm == 89.0
    view.figure_width_mm = 100.0
    assert preset.value == "custom"


def test_the_palette_is_colour_blind_safe(views):
    assert set(PALETTE) <= OKABE_ITO
    assert set(views[0].colours.values()) <= OKABE_ITO


def _check_paper_files(view, labels: list[str]) -> None:
    """``view``'s SVG and PDF have ``labels`` as text (TrueType in the PDF); its PNG is 300 dpi at the size in mm."""
    svg = view.figure_bytes("svg").getvalue()
    words = " ".join(" ".join(svg_texts(svg)).split())
    pdf = view.figure_bytes("pdf").getvalue()
    assert b"/Subtype /Type3" not in pdf and (b"/CIDFontType2" in pdf or b"/Subtype /TrueType" in pdf)
    pdf_words = " ".join(" ".join(pdf_texts(pdf)).split())
    for label in labels:
        assert label in words, (label, svg_texts(svg))
        assert label in pdf_words, (label, pdf_texts(pdf))
    assert not re.search(rb"<path[^>]*id=\"DejaVuSans", svg)  # no glyphs drawn as paths
    view.param.update(figure_width_mm=FIGURE_PRESETS["single column (89 mm)"], figure_height_mm=100.0)
    image = Image.open(view.figure_bytes("png"))
    assert image.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    assert image.size == (round(89 / 25.4 * 300), round(100 / 25.4 * 300))
    view.figure_width_mm = 120.0
    width_pt = ET.fromstring(view.figure_bytes("svg").getvalue()).get("width")
    assert float(width_pt.removesuffix("pt")) == pytest.approx(120 / 25.4 * 72)


def _figure_buttons(view) -> list[str]:
    buttons, size = view.downloads.objects
    assert size.objects[1].options == [*FIGURE_PRESETS, "custom"]
    return [b.filename for b in buttons.objects if hasattr(b, "filename")]


def test_cell_figure_is_the_averaged_sweeps_with_units_and_the_cell_as_text(store):
    key = store.cells["cell_key"].iloc[0]
    view = CellView(store, key)
    stem = "cell-" + key.replace("/", "_")
    assert _figure_buttons(view) == [f"{stem}.pdf", f"{stem}.svg", f"{stem}.png"]
    labels = [
        "time from stimulus (ms)",
        "current (pA)",
        f"Cell {key}",
        "LHb — lateral habenula (CCF: LH)",
        "−70 mV (AMPAR-EPSC)",
        "+40 mV (NMDAR-EPSC)",
        "baseline window",
        "peak window",
        "latency window",
    ]
    n = int(((view.data()["sweeps"]["kind"] == "AMPA") & view.data()["sweeps"]["accepted"]).sum())
    _check_paper_files(view, [*labels, f"mean of {n} accepted sweeps"])


def test_unit_figure_is_raster_isi_and_waveform_with_the_burst_rule_as_text(store):
    key = store.units.loc[store.units["percent_spikes_in_bursts"] > 0, "unit_key"].iloc[0]
    view = UnitView(store, key)
    stem = "unit-" + key.replace("/", "_")
    assert _figure_buttons(view) == [f"{stem}.pdf", f"{stem}.svg", f"{stem}.png"]
    view.onset_isi_ms = 15.0  # the figure notes the rule in force, not the stored one
    labels = [
        "ISI (ms)",
        "count",
        "time in row (s)",
        "row start from injection (s)",
        "µV",
        f"Unit {key}",
        "LHb — lateral habenula (CCF: LH)",
        "burst spikes",
        "onset ISI 15 ms",
        "Bursts: onset ISI ≤ 15 ms",
    ]
    _check_paper_files(view, labels)
    assert "100" in svg_texts(view.figure_bytes("svg").getvalue())  # log ticks as plain numbers


def test_traces_figure_is_the_shown_window_with_scale_bars_as_text(store):
    file = store.sessions.loc[store.sessions["modality"] == "ecephys", "file"].iloc[0]
    view = TracesView(store, file, start_s=3.0, window_s=2.0)
    stem = "traces-" + file.rsplit("/", 1)[-1].removesuffix(".nwb")
    assert _figure_buttons(view) == [f"{stem}.pdf", f"{stem}.svg", f"{stem}.png"]
    w = view.window()
    labels = [file, "3–5 s", "200 ms", "µV", "injection", *w["channels"]]  # the injection at 4 s
    _check_paper_files(view, labels)
    view.param.update(group="tetrode2", start_s=0.0, window_s=0.5)  # another window, one tetrode: 4 channels
    svg = " ".join(svg_texts(view.figure_bytes("svg").getvalue()))
    assert "0–0.5 s" in svg and "50 ms" in svg and "tetrode2" in svg
    assert sum(name in svg.split() for name in view.window()["channels"]) == 4


def test_a_raster_of_many_spikes_is_an_image_in_the_pdf_its_labels_text():
    rng = np.random.default_rng(0)
    n = RASTERISE_ABOVE + 1000
    raster = pd.DataFrame({"x": rng.uniform(0, 1, n), "row": np.floor(rng.uniform(-10, 10, n)),
                           "burst": np.where(rng.uniform(size=n) < 0.2, "burst", "single")})  # fmt: skip
    edges = np.logspace(0, 4, 81)
    unit = UnitFigure(raster, 1.0, edges, np.ones(80), 20.0, 100.0, "Bursts: onset ISI ≤ 20 ms")
    pdf = render_unit_figure(unit, "Unit u/1", "pdf", (183.0, 110.0)).getvalue()
    assert b"/Subtype /Image" in pdf and "ISI (ms)" in pdf_texts(pdf) and "time in row (s)" in pdf_texts(pdf)
    few = render_unit_figure(UnitFigure(raster.iloc[:100], 1.0, edges, np.ones(80), 20.0, 100.0, ""), "u", "pdf",
                             (183.0, 110.0)).getvalue()  # fmt: skip
    assert b"/Subtype /Image" not in few  # a few spikes stay vector ticks
