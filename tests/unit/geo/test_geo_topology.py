import json

import pytest
import shapely

from geo.area import geodesic_area_m2
from geo.topology import Escape, Gap, Overlap, TopologyReport, topology_report

# ~1 km cells near Shanghai
X0, Y0, D = 121.40, 31.20, 0.01


def cell(i, j, w=1.0, h=1.0):
    return shapely.box(X0 + i * D, Y0 + j * D, X0 + (i + w) * D, Y0 + (j + h) * D)


def test_clean_hierarchy_is_ok():
    items = [
        ("P", "street", "D", cell(0, 0, 2, 1)),
        ("A", "community", "P", cell(0, 0)),
        ("B", "community", "P", cell(1, 0)),
    ]
    rep = topology_report(items)
    assert isinstance(rep, TopologyReport) and rep.ok
    assert rep.to_dict() == {"ok": True, "overlaps": [], "gaps": [], "escapes": []}


def test_overlap_gap_escape():
    parent = cell(0, 0, 3, 1)
    a = cell(0, 0, 1.2, 1)  # overlaps b by 0.2 cell
    b = cell(1, 0)
    c = cell(2.5, 0, 1, 1)  # leaves a 0.5-cell gap at [2, 2.5], escapes by 0.5 cell
    other = cell(0.5, 0, 1, 1)  # overlaps a but has another parent: not siblings
    items = [
        ("P", "street", None, parent),
        ("B", "community", "P", b),
        ("A", "community", "P", a),
        ("C", "community", "P", c),
        ("O", "community", "Q", other),
    ]
    rep = topology_report(items)
    assert not rep.ok
    (ov,) = rep.overlaps
    assert isinstance(ov, Overlap) and (ov.code_a, ov.code_b) == ("A", "B")
    assert ov.area_m2 == pytest.approx(geodesic_area_m2(cell(1, 0, 0.2, 1)), rel=1e-6)
    (gap,) = rep.gaps
    assert isinstance(gap, Gap) and gap.parent_code == "P"
    assert gap.area_m2 == pytest.approx(geodesic_area_m2(cell(2, 0, 0.5, 1)), rel=1e-6)
    (esc,) = rep.escapes
    assert isinstance(esc, Escape) and (esc.code, esc.parent_code) == ("C", "P")
    assert esc.geometry.equals(cell(3, 0, 0.5, 1))
    d = rep.to_dict()
    json.dumps(d)  # JSON-friendly
    assert d["overlaps"][0]["area_m2"] == round(ov.area_m2, 1)
    assert d["gaps"][0]["geometry"]["type"] == "Polygon"


def test_slivers_below_min_area_ignored():
    eps = 5e-9  # ~0.5 mm wide over 1.1 km: ~0.5 m²
    items = [
        ("P", "street", None, cell(0, 0, 2, 1)),
        ("A", "community", "P", cell(0, 0, 1 + eps / D, 1)),
        ("B", "community", "P", cell(1, 0)),
    ]
    assert topology_report(items).ok
    rep = topology_report(items, min_area_m2=0.0)
    assert len(rep.overlaps) == 1 and 0 < rep.overlaps[0].area_m2 < 1


def test_touching_siblings_and_parents_without_children():
    items = [
        ("A", "grid", "X", cell(0, 0)),
        ("B", "grid", "X", cell(1, 0)),  # parent X absent
        ("Lonely", "street", None, cell(5, 5)),
    ]
    assert topology_report(items).ok
    assert topology_report([]).ok
    assert topology_report([("A", "grid", None, None)]).ok


def test_nested_containment_counts_as_overlap():
    items = [("A", "grid", "P", cell(0, 0, 2, 2)), ("B", "grid", "P", cell(0.5, 0.5))]
    (ov,) = topology_report(items).overlaps
    assert ov.geometry.equals(cell(0.5, 0.5))


def test_many_siblings_uses_tree():
    # 50x50 clean tiling under one parent: no issues, and quick.
    items = [("P", "community", None, cell(0, 0, 50, 50))]
    items += [(f"g{i}-{j}", "grid", "P", cell(i, j)) for i in range(50) for j in range(50)]
    rep = topology_report(items)
    assert rep.ok, rep.to_dict()["gaps"][:1]
