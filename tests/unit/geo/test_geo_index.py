
import numpy as np
import pytest
import shapely

from geo.index import GridIndex

#  Four unit squares meeting at (1, 1):
#   C(0,1)-(1,2) | D(1,1)-(2,2)
#   A(0,0)-(1,1) | B(1,0)-(2,1)
SQUARES = {
    "A": shapely.box(0, 0, 1, 1),
    "B": shapely.box(1, 0, 2, 1),
    "C": shapely.box(0, 1, 1, 2),
    "D": shapely.box(1, 1, 2, 2),
}


@pytest.fixture
def flat():
    return GridIndex((k, g, 3) for k, g in SQUARES.items())


def test_interior_points(flat):
    assert len(flat) == 4
    assert [
        flat.locate(0.5, 0.5),
        flat.locate(1.5, 0.5),
        flat.locate(0.5, 1.5),
        flat.locate(1.5, 1.5),
    ] == list("ABCD")


def test_shared_edge_and_vertex_go_to_smallest_key(flat):
    assert flat.locate(1.0, 0.5) == "A"  # edge A|B
    assert flat.locate(1.5, 1.0) == "B"  # edge B|D
    assert flat.locate(1.0, 1.0) == "A"  # vertex shared by all four
    assert flat.locate(2.0, 2.0) == "D"  # outer corner belongs to D alone
    assert flat.locate(0.0, 0.0) == "A"


def test_outside(flat):
    assert flat.locate(2.0001, 1) is None
    assert flat.locate(-5, -5) is None
    assert flat.locate(float("nan"), 1.0) is None


def test_nested_levels_deepest_wins():
    idx = GridIndex(
        [
            ("310101", shapely.box(0, 0, 10, 10), 0),
            ("310101001", shapely.box(0, 0, 5, 10), 1),
            ("310101001001", shapely.box(0, 0, 5, 5), 2),
            ("31010100100101", shapely.box(0, 0, 1, 1), 3),
        ]
    )
    assert idx.locate(0.5, 0.5) == "31010100100101"
    assert idx.locate(1.0, 1.0) == "31010100100101"  # on its boundary still counts
    assert idx.locate(2, 2) == "310101001001"
    assert idx.locate(2, 7) == "310101001"
    assert idx.locate(7, 7) == "310101"
    assert idx.locate(11, 7) is None


def test_rank_beats_key_and_key_breaks_rank_ties():
    big = shapely.box(0, 0, 2, 2)
    idx = GridIndex([("a", big, 1), ("z", shapely.box(0, 0, 1, 1), 2), ("b", big, 1)])
    assert idx.locate(0.5, 0.5) == "z"
    assert idx.locate(1.5, 1.5) == "a"


def test_holes_and_multipolygons():
    donut = shapely.Polygon(
        [(0, 0), (4, 0), (4, 4), (0, 4)], holes=[[(1, 1), (3, 1), (3, 3), (1, 3)]]
    )
    multi = shapely.MultiPolygon([shapely.box(10, 0, 11, 1), shapely.box(12, 0, 13, 1)])
    idx = GridIndex([("donut", donut, 0), ("multi", multi, 0)])
    assert idx.locate(2, 2) is None
    assert idx.locate(1, 2) == "donut"  # on the hole's ring
    assert idx.locate(12.5, 0.5) == "multi"
    assert idx.locate(11.5, 0.5) is None


def test_empty_index_and_skipped_entries():
    idx = GridIndex([])
    assert len(idx) == 0
    assert idx.locate(1, 1) is None
    assert idx.locate_many([1, 2], [1, 2]) == [None, None]
    idx = GridIndex(
        [("none", None, 0), ("empty", shapely.Polygon(), 0), ("ok", shapely.box(0, 0, 1, 1), 0)]
    )
    assert len(idx) == 1
    assert idx.locate_many([], []) == []


def test_locate_many_agrees_with_locate():
    rng = np.random.default_rng(42)
    entries = [
        (f"g{i:02d}{j:02d}", shapely.box(i, j, i + 1, j + 1), 3)
        for i in range(20)
        for j in range(20)
    ]
    entries += [(f"s{i}", shapely.box(i * 5, 0, i * 5 + 5, 20), 1) for i in range(4)]
    entries.append(("blob", shapely.Point(10, 10).buffer(3), 2))
    idx = GridIndex(entries)
    lons = np.concatenate([rng.uniform(-2, 22, 3000), rng.integers(-1, 22, 500).astype(float)])
    lats = np.concatenate([rng.uniform(-2, 22, 3000), rng.integers(-1, 22, 500).astype(float)])
    many = idx.locate_many(lons, lats)
    assert many == [idx.locate(x, y) for x, y in zip(lons, lats, strict=True)]
    assert None in many and any(m and m.startswith("g") for m in many)
    with pytest.raises(ValueError):
        idx.locate_many([1, 2], [1])


def test_single_and_batch_agree_on_100k_squares():
    """Timing lives in bench/ (make bench); here only that both paths give the same answers."""
    n = 316
    side = 0.001
    entries = [
        (f"g{i:03d}{j:03d}",
         shapely.box(120 + i * side, 30 + j * side, 120 + (i + 1) * side, 30 + (j + 1) * side), 3)
        for i in range(n)
        for j in range(n)
    ]
    idx = GridIndex(entries)
    assert len(idx) == n * n
    rng = np.random.default_rng(1)
    lons = rng.uniform(120, 120 + n * side, 5000)
    lats = rng.uniform(30, 30 + n * side, 5000)
    single = [idx.locate(x, y) for x, y in zip(lons.tolist(), lats.tolist(), strict=True)]
    assert single == idx.locate_many(lons, lats)
    i, j = int((lons[0] - 120) / side), int((lats[0] - 30) / side)
    assert single[0] == f"g{i:03d}{j:03d}"
