"""The first page: the compare view lays out its figure first and the rest once the page has loaded (issue 13)."""

from nwb_ketamine.explorer.compare import CompareView


def test_a_first_page_shows_the_figure_first_and_the_tables_once_loaded(store):
    """rest_later (a served page's first view): the layout starts with the figure and its downloads; show_rest
    adds the methods, statistics and data below it, once; a layout made after show_rest has them from the start."""
    view = CompareView(store, rest_later=True)
    layout = view.__panel__()
    assert view._plot_area in layout.objects and view.downloads in layout.objects
    assert view._stats_table not in layout.objects and view._data_table not in layout.objects
    view.show_rest()
    view.show_rest()
    assert layout.objects.count(view._stats_table) == 1 and view._data_table in layout.objects
    assert view.methods_card in layout.objects
    later = CompareView(store, rest_later=True)
    later.show_rest()  # the page loaded before this view was first laid out
    assert later._data_table in later.__panel__().objects
