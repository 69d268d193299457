import pytest
import shapely

from geo.area import distance_m, geodesic_area_m2


def test_area_of_one_degree_cell_at_equator():
    # Reference: a 1x1 degree cell at the equator on WGS-84 is ~12,308 km².
    assert geodesic_area_m2(shapely.box(0, 0, 1, 1)) == pytest.approx(1.2308778e10, rel=1e-4)


def test_area_orientation_independent_and_degenerate():
    cw = shapely.Polygon([(0, 0), (0, 0.01), (0.01, 0.01), (0.01, 0)])
    assert geodesic_area_m2(cw) == pytest.approx(geodesic_area_m2(cw.reverse()))
    assert geodesic_area_m2(cw) > 0
    assert geodesic_area_m2(None) == 0.0
    assert geodesic_area_m2(shapely.Polygon()) == 0.0


def test_ten_thousand_square_metre_grid():
    # ~100 m x 100 m near Shanghai
    g = shapely.box(121.47, 31.23, 121.47 + 100 / 95200, 31.23 + 100 / 110900)
    assert geodesic_area_m2(g) == pytest.approx(10_000, rel=0.01)


def test_distance():
    assert distance_m(0, 0, 1, 0) == pytest.approx(111_319.49, rel=1e-6)
    assert distance_m(121.47, 31.23, 121.47, 31.23) == 0.0


def test_geo_package_has_no_app_or_database_imports():
    import subprocess
    import sys

    code = (
        "import sys, geo.crs, geo.io, geo.validate, geo.codes, geo.topology, geo.area, geo.index; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('flask', 'sqlalchemy', 'geoalchemy2', 'wangge')]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
