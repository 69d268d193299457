import json

import pytest
import shapefile

from geo.io import GeoFormatError, GridFeature, read_features, read_geojson_obj

SQUARE = [[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]]
# Shapefile outer rings are clockwise.
SQUARE_CW = [[(0.0, 0.0), (0.0, 1.0), (1.0, 1.0), (1.0, 0.0), (0.0, 0.0)]]


def fc(*features):
    return {"type": "FeatureCollection", "features": list(features)}


_SQUARE_GEOMETRY = object()


def feat(props, geometry=_SQUARE_GEOMETRY):
    if geometry is _SQUARE_GEOMETRY:
        geometry = {"type": "Polygon", "coordinates": SQUARE}
    return {"type": "Feature", "properties": props, "geometry": geometry}


def write_json(path, obj):
    path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    return path


def test_geojson_fields_and_normalisation(tmp_path):
    path = write_json(
        tmp_path / "grids.geojson",
        fc(
            feat(
                {
                    "code": " 310101001001 ",
                    "name": "外滩",
                    "level": "community",
                    "parent": 310101001,
                }
            ),
            feat({"code": 310101.0, "name": "", "extra": [1, 2]}),
            feat({"code": "", "name": None}),
        ),
    )
    out = read_features(path)
    assert [f.index for f in out] == [0, 1, 2]
    a, b, c = out
    assert isinstance(a, GridFeature)
    assert (a.code, a.name, a.level, a.parent_code) == (
        "310101001001",
        "外滩",
        "community",
        "310101001",
    )
    assert a.geometry.geom_type == "Polygon" and a.geometry.area == 1.0
    assert (b.code, b.name, b.level) == ("310101", None, None)
    assert b.properties["extra"] == [1, 2]
    assert c.code is None and c.name is None


def test_geojson_custom_fields_and_defaults(tmp_path):
    path = write_json(tmp_path / "d.json", fc(feat({"adcode": 310104, "district": "徐汇区"})))
    (f,) = read_features(
        path,
        code_field="adcode",
        name_field="district",
        default_level="district",
        default_parent="310100",
    )
    assert (f.code, f.name, f.level, f.parent_code) == ("310104", "徐汇区", "district", "310100")


def test_geojson_bad_geometries_do_not_crash(tmp_path):
    path = write_json(
        tmp_path / "g.geojson",
        fc(
            feat({"code": "a"}, geometry=None),
            feat({"code": "b"}, geometry={"type": "Polygon", "coordinates": "nonsense"}),
            feat({"code": "c"}, geometry={"type": "Blob"}),
            {"type": "Feature", "properties": None},
            feat({"code": "e"}, geometry={"type": "Point", "coordinates": [1, 2]}),
        ),
    )
    out = read_features(path)
    assert [f.geometry for f in out[:4]] == [None, None, None, None]
    assert out[3].properties == {}
    assert out[4].geometry.geom_type == "Point"  # type checks belong to validation


def test_geojson_gbk_and_bom(tmp_path):
    obj = fc(feat({"code": "1", "name": "黄浦区"}))
    (tmp_path / "gbk.geojson").write_bytes(json.dumps(obj, ensure_ascii=False).encode("gbk"))
    (tmp_path / "bom.geojson").write_bytes(b"\xef\xbb\xbf" + json.dumps(obj).encode())
    assert read_features(tmp_path / "gbk.geojson")[0].name == "黄浦区"
    assert read_features(tmp_path / "bom.geojson")[0].name == "黄浦区"


@pytest.mark.parametrize(
    "content,match",
    [
        (b"{not json", "not valid JSON"),
        (b'{"type": "Feature", "properties": {}, "geometry": null}', "FeatureCollection"),
        (b'{"type": "FeatureCollection"}', "features"),
        (b'{"type": "FeatureCollection", "features": [42]}', "feature #0"),
        (b"[1, 2]", "FeatureCollection"),
    ],
)
def test_geojson_file_errors(tmp_path, content, match):
    path = tmp_path / "bad.geojson"
    path.write_bytes(content)
    with pytest.raises(GeoFormatError, match=match):
        read_features(path)


def test_file_level_errors(tmp_path):
    with pytest.raises(GeoFormatError, match="not found|cannot read"):
        read_features(tmp_path / "missing.geojson")
    (tmp_path / "x.kml").write_text("<kml/>")
    with pytest.raises(GeoFormatError, match="unsupported file type '.kml'"):
        read_features(tmp_path / "x.kml")
    assert issubclass(GeoFormatError, ValueError)


def test_read_geojson_obj():
    out = read_geojson_obj(fc(feat({"id": "g1"})), code_field="id", default_level="grid")
    assert out[0].code == "g1" and out[0].level == "grid"
    with pytest.raises(GeoFormatError):
        read_geojson_obj({"type": "Topology"})


def write_shp(base, records, encoding="utf-8", cpg=None, upper_fields=False):
    w = shapefile.Writer(str(base), shapeType=shapefile.POLYGON, encoding=encoding)
    names = (
        ["CODE", "NAME", "LEVEL", "PARENT"] if upper_fields else ["code", "name", "level", "parent"]
    )
    w.field(names[0], "C", 20)
    w.field(names[1], "C", 50)
    w.field(names[2], "C", 12)
    w.field(names[3], "N", 12, 0)
    for rec, geom in records:
        if geom is None:
            w.null()
        else:
            w.poly(geom)
        w.record(*rec)
    w.close()
    if cpg is not None:
        base.with_suffix(".cpg").write_text(cpg)
    return base.with_suffix(".shp")


def test_shapefile_gbk_detected_without_cpg(tmp_path):
    path = write_shp(
        tmp_path / "grids",
        [
            (("310101001", "南京东路街道", "street", 310101), SQUARE_CW),
            (("310101002", "外滩街道", "street", 310101), None),
        ],
        encoding="gbk",
    )
    a, b = read_features(path)
    assert (a.code, a.name, a.level, a.parent_code) == (
        "310101001",
        "南京东路街道",
        "street",
        "310101",
    )
    assert a.geometry.geom_type == "Polygon" and a.geometry.area == 1.0
    assert b.name == "外滩街道" and b.geometry is None


def test_shapefile_utf8_and_upper_case_fields(tmp_path):
    path = write_shp(
        tmp_path / "u", [(("A1", "人民广场", "grid", 5), SQUARE_CW)], upper_fields=True
    )
    (f,) = read_features(path)
    assert (f.code, f.name, f.parent_code) == ("A1", "人民广场", "5")
    assert f.properties["NAME"] == "人民广场"


@pytest.mark.parametrize("cpg", ["GBK", "936", "ANSI 936", "cp936"])
def test_shapefile_cpg_is_honoured(tmp_path, cpg):
    path = write_shp(tmp_path / "c", [(("1", "徐家汇", "", 0), SQUARE_CW)], encoding="gbk", cpg=cpg)
    assert read_features(path)[0].name == "徐家汇"


def test_shapefile_cpg_wins_over_guessing(tmp_path):
    # Latin-1 "é" is neither valid UTF-8 nor (here) valid GBK: only the .cpg can tell.
    path = write_shp(
        tmp_path / "l", [(("1", "café", "", 0), SQUARE_CW)], encoding="latin-1", cpg="ISO-8859-1"
    )
    assert read_features(path)[0].name == "café"


def test_shapefile_explicit_encoding(tmp_path):
    path = write_shp(tmp_path / "e", [(("1", "静安", "", 0), SQUARE_CW)], encoding="gbk")
    assert read_features(path, encoding="gbk")[0].name == "静安"
    with pytest.raises(GeoFormatError, match="could not be decoded"):
        read_features(path, encoding="utf-8")


def test_shapefile_missing_dbf_and_garbage(tmp_path):
    path = write_shp(tmp_path / "m", [(("1", "x", "", 0), SQUARE_CW)])
    path.with_suffix(".dbf").unlink()
    with pytest.raises(GeoFormatError, match=r"m\.dbf is missing"):
        read_features(path)
    (tmp_path / "junk.shp").write_bytes(b"not a shapefile at all")
    (tmp_path / "junk.dbf").write_bytes(b"nor a dbf")
    with pytest.raises(GeoFormatError, match="junk.shp"):
        read_features(tmp_path / "junk.shp")
