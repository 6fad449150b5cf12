"""AOIs: vectorised point-in-rectangle / point-in-polygon and the polygon AOI file."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.aoi import (
    AOI_FILE_COLUMNS,
    PolygonAOI,
    aois_frame,
    points_in_polygon,
    points_in_rect,
    read_aois,
    relative_to_screen,
)
from analysis.errors import InputError

SQUARE = np.array([(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)])


def test_rect_edges_inclusive_nan_outside():
    x = np.array([0.0, 10.0, 5.0, -0.001, 10.001, np.nan, 5.0])
    y = np.array([0.0, 10.0, 5.0, 5.0, 5.0, 5.0, np.nan])
    assert points_in_rect(x, y, 0, 0, 10, 10).tolist() == [True, True, True, False, False, False, False]


def test_rect_broadcasts_one_rectangle_per_point_and_nan_aoi_is_outside():
    x = np.array([5.0, 5.0, 5.0])
    y = np.array([5.0, 5.0, 5.0])
    left = np.array([0.0, 6.0, np.nan])
    assert points_in_rect(x, y, left, 0.0, left + 10, 10.0).tolist() == [True, False, False]


def test_polygon_square_and_triangle():
    pts_x = np.array([5.0, 15.0, -1.0, 9.99, 0.01])
    pts_y = np.array([5.0, 5.0, 5.0, 9.99, 0.01])
    assert points_in_polygon(pts_x, pts_y, SQUARE).tolist() == [True, False, False, True, True]
    tri = [(0, 0), (10, 0), (0, 10)]
    assert points_in_polygon([1, 6, 4], [1, 6, 4], tri).tolist() == [True, False, True]


def test_polygon_concave_notch_is_outside():
    # U shape: the notch between the arms is outside
    u = [(0, 0), (3, 0), (3, 8), (7, 8), (7, 0), (10, 0), (10, 10), (0, 10)]
    assert points_in_polygon([1.5, 5, 8.5, 5], [2, 2, 2, 9], u).tolist() == [True, False, True, True]


def test_polygon_even_odd_self_intersecting_star():
    # pentagram: the central pentagon is covered twice -> outside under the even-odd rule
    ang = np.pi / 2 + np.arange(5) * 4 * np.pi / 5
    star = np.c_[np.cos(ang), np.sin(ang)]
    inside = points_in_polygon([0.0, 0.0], [0.0, 0.8], star)
    assert inside.tolist() == [False, True]


def test_polygon_ray_through_vertex_counted_once():
    diamond = [(5, 0), (10, 5), (5, 10), (0, 5)]
    # horizontal rays through the vertex at y=5
    assert points_in_polygon([2.0, -1.0, 11.0], [5.0, 5.0, 5.0], diamond).tolist() == [True, False, False]


def test_polygon_nan_points_outside_and_bad_vertices_rejected():
    assert points_in_polygon([np.nan], [1.0], SQUARE).tolist() == [False]
    with pytest.raises(ValueError):
        points_in_polygon([1.0], [1.0], [(0, 0), (1, 1)])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-5, 15), st.floats(-5, 15)), min_size=1, max_size=30),
       st.floats(0, 5), st.floats(0, 5), st.floats(6, 10), st.floats(6, 10))
def test_polygon_agrees_with_rect_for_axis_aligned_rectangles(points, left, top, right, bottom):
    p = np.array(points)
    rect = [(left, top), (right, top), (right, bottom), (left, bottom)]
    on_edge = np.isclose(p[:, 0], left) | np.isclose(p[:, 0], right) | np.isclose(p[:, 1], top) | np.isclose(p[:, 1], bottom)
    a = points_in_polygon(p[:, 0], p[:, 1], rect)[~on_edge]
    b = points_in_rect(p[:, 0], p[:, 1], left, top, right, bottom)[~on_edge]
    assert a.tolist() == b.tolist()


def test_relative_to_screen_maps_unit_square_onto_rectangle():
    v = np.array([(0.0, 0.0), (1.0, 0.0), (0.5, 1.0)])
    s = relative_to_screen(v, 240, 112, 1040, 912)
    assert s.tolist() == [[240, 112], [1040, 112], [640, 912]]
    a = PolygonAOI("david_ours", "face", v)
    assert np.array_equal(a.on_screen(240, 112, 1040, 912), s)


# ----------------------------------------------------------------- AOI file


def _write(tmp_path, text, name="aois.tsv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_read_aois_valid_file_with_comments_and_blank_lines(tmp_path):
    p = _write(tmp_path, "# AOIs of the David images\nstimulus_id\taoi_name\tvertices\n"
                         "david_ours\tface\t0.4,0.05 0.6,0.05 0.6,0.25 0.4,0.25\n\n"
                         "david_ours\thand\t0.1,0.5 0.3,0.5 0.2,0.7\n"
                         "night_watch_pix2pix\tcaptain\t0,0 1,0 1,1 0,1\n")
    aois = read_aois(p)
    assert [(a.stimulus_id, a.aoi_name) for a in aois] == [
        ("david_ours", "face"), ("david_ours", "hand"), ("night_watch_pix2pix", "captain")]
    assert aois[1].vertices.tolist() == [[0.1, 0.5], [0.3, 0.5], [0.2, 0.7]]
    frame = aois_frame(aois)
    assert tuple(frame.columns) == AOI_FILE_COLUMNS
    assert frame.loc[1, "vertices"] == "0.1,0.5 0.3,0.5 0.2,0.7"


@pytest.mark.parametrize("body, line, column, words", [
    ("david_ours\tface\t0.1,0.1 0.2,0.1\n", 2, "vertices", "2 vertices"),
    ("david_ours\tface\t0.1,0.1 0.2;0.1 0.3,0.3\n", 2, "vertices", "vertex 2"),
    ("david_ours\tface\t0.1,0.1 0.2,abc 0.3,0.3\n", 2, "vertices", "not numeric"),
    ("david_ours\tface\t0.1,0.1 1.5,0.1 0.3,0.3\n", 2, "vertices", "outside the image"),
    ("david_ours\tface\t0.1,0.1 nan,0.1 0.3,0.3\n", 2, "vertices", "not finite"),
    ("david_ours\tface\t0.1,0.1 0.2,0.2 0.3,0.3\n", 2, "vertices", "zero area"),
    ("\tface\t0.1,0.1 0.2,0.1 0.3,0.3\n", 2, "stimulus_id", "empty stimulus_id"),
    ("david_ours\t\t0.1,0.1 0.2,0.1 0.3,0.3\n", 2, "aoi_name", "empty aoi_name"),
    ("david_ours\tstimulus\t0.1,0.1 0.2,0.1 0.3,0.3\n", 2, "aoi_name", "reserved"),
    ("david_ours\tface\t0.1,0.1 0.2,0.1 0.3,0.3\ndavid_ours\tface\t0,0 1,0 1,1\n", 3, "aoi_name", "duplicate"),
    ("david_ours\tface 0.1,0.1 0.2,0.1 0.3,0.3\n", 2, None, "2 tab-separated fields"),
])
def test_read_aois_rejects_bad_rows_with_line_and_column(tmp_path, body, line, column, words):
    p = _write(tmp_path, "stimulus_id\taoi_name\tvertices\n" + body)
    with pytest.raises(InputError) as err:
        read_aois(p)
    e = err.value
    assert e.line == line
    assert e.column == column
    assert words in e.problem
    assert str(p) in str(e) and e.fix


def test_read_aois_rejects_missing_file_bad_header_and_empty(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_aois(tmp_path / "nope.tsv")
    with pytest.raises(InputError) as err:
        read_aois(_write(tmp_path, "stimulus\taoi_name\tvertices\n"))
    assert err.value.line == 1 and "stimulus_id" in err.value.problem
    with pytest.raises(InputError, match="empty"):
        read_aois(_write(tmp_path, "\n# only a comment\n"))
    with pytest.raises(InputError, match="no polygons"):
        read_aois(_write(tmp_path, "stimulus_id\taoi_name\tvertices\n"))
