import shapely

from geo.codes import CodeRule
from geo.io import GridFeature
from geo.validate import FeatureFix, FeatureProblem, ValidationResult, validate_features

BOX = shapely.box(121.47, 31.23, 121.48, 31.24)
# Bow-tie: edges cross at (121.475, 31.235)
BOWTIE = shapely.Polygon([(121.47, 31.23), (121.48, 31.24), (121.48, 31.23), (121.47, 31.24)])


def gf(i, code, geom=BOX, level=None, parent=None):
    return GridFeature(
        index=i, code=code, name=None, level=level, parent_code=parent, geometry=geom, properties={}
    )


def reasons(result):
    return [(p.index, p.reason) for p in result.problems]


def test_clean_features_are_ok():
    res = validate_features([gf(0, "a"), gf(1, "b", shapely.MultiPolygon([BOX]))])
    assert isinstance(res, ValidationResult) and res.ok
    assert res.problems == [] and res.fixes == []
    assert [f.code for f in res.features] == ["a", "b"]


def test_all_problems_of_all_features_reported():
    feats = [
        gf(0, None, None),
        gf(1, "dup"),
        gf(2, "dup", shapely.LineString([(0, 0), (1, 1)])),
        gf(3, "c", shapely.GeometryCollection([BOX, shapely.Point(0, 0)])),
        gf(4, "d", shapely.Polygon()),
        gf(5, "e", shapely.box(179, 0, 181, 1)),
        gf(6, "f", BOWTIE),
        gf(7, "g", level="city"),
        gf(8, "dup", None, level="village"),
    ]
    res = validate_features(feats)
    assert not res.ok
    assert reasons(res) == [
        (0, "missing_code"),
        (0, "missing_geometry"),
        (2, "duplicate_code"),
        (2, "not_polygon"),
        (3, "not_polygon"),
        (4, "empty"),
        (5, "coordinates_out_of_range"),
        (6, "self_intersection"),
        (7, "unknown_level"),
        (8, "duplicate_code"),
        (8, "unknown_level"),
        (8, "missing_geometry"),
    ]
    by = {(p.index, p.reason): p for p in res.problems}
    assert "feature #1" in by[(2, "duplicate_code")].detail
    assert "GeometryCollection" in by[(3, "not_polygon")].detail
    assert "Self-intersection[121.475 31.235]" in by[(6, "self_intersection")].detail
    assert all(isinstance(p, FeatureProblem) and p.detail for p in res.problems)
    assert by[(6, "self_intersection")].code == "f"


def test_other_invalidity_is_invalid_geometry():
    # hole outside its shell
    poly = shapely.Polygon(BOX.exterior.coords, holes=[[(122, 32), (122.01, 32), (122.01, 32.01)]])
    res = validate_features([gf(0, "x", poly)])
    assert reasons(res) == [(0, "invalid_geometry")]
    assert "Hole lies outside shell" in res.problems[0].detail


def test_national_code_rules_with_levels():
    rule = CodeRule(mode="national")
    res = validate_features(
        [
            gf(0, "310101", level="district"),
            gf(1, "310101001", level="street", parent="310101"),
            gf(2, "310104001", level="street", parent="310101"),
            gf(3, "31010", level="district"),
            gf(4, "X1"),  # no level: still must be a national-shaped code
        ],
        rule=rule,
    )
    assert reasons(res) == [
        (2, "code_not_under_parent"),
        (3, "bad_code_shape"),
        (4, "bad_code_shape"),
    ]
    # default (free) rule accepts them all
    assert validate_features([gf(0, "X1"), gf(1, "31010", level="district")]).ok


def test_fix_repairs_bowtie_and_records_area_change():
    feats = [gf(0, "f", BOWTIE)]
    res = validate_features(feats, fix=True)
    assert res.ok, res.problems
    (fix,) = res.fixes
    assert isinstance(fix, FeatureFix) and fix.index == 0 and fix.code == "f"
    assert fix.what.startswith("made valid with make_valid: Self-intersection[121.475 31.235]")
    assert "area changed from" in fix.what and "m²" in fix.what
    g = res.features[0].geometry
    assert g.geom_type == "MultiPolygon" and g.is_valid and len(g.geoms) == 2
    assert feats[0].geometry is BOWTIE  # input untouched


def test_fix_drops_non_polygon_parts():
    gc = shapely.GeometryCollection(
        [BOX, shapely.Point(0, 0), shapely.LineString([(0, 0), (1, 0)])]
    )
    res = validate_features([gf(0, "c", gc)], fix=True)
    assert res.ok
    assert res.features[0].geometry.equals(BOX)
    assert "dropped 2 non-polygon parts" in res.fixes[0].what


def test_fix_cannot_repair_everything():
    spike = shapely.Polygon([(0, 0), (1, 1), (0, 0), (1, 1)])  # collapses to a line
    res = validate_features(
        [
            gf(0, "line", shapely.LineString([(0, 0), (1, 1)])),
            gf(1, "far", shapely.box(200, 0, 201, 1)),
            gf(2, "spike", spike),
            gf(3, "gc", shapely.GeometryCollection([shapely.Point(0, 0)])),
        ],
        fix=True,
    )
    assert [r for _, r in reasons(res)] == [
        "not_polygon",
        "coordinates_out_of_range",
        "self_intersection",
        "not_polygon",
    ]
    assert "repair left no polygon" in res.problems[2].detail
    assert res.fixes == []
