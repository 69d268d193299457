import pytest

from geo.codes import LEVELS, CodeRule, check_code, level_rank

NATIONAL = CodeRule(mode="national")


def test_levels_and_rank():
    assert LEVELS == ("district", "street", "community", "grid")
    assert [level_rank(lv) for lv in LEVELS] == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="'city'"):
        level_rank("city")


@pytest.mark.parametrize(
    "code,level,parent,reason",
    [
        ("310101", "district", None, None),
        ("310101001", "street", "310101", None),
        ("310101001002", "community", "310101001", None),
        ("31010100100201", "grid", "310101001002", None),
        ("310101001002001", "grid", "310101001002", None),
        ("3101010010020001", "grid", "310101001002", "bad_code_shape"),
        ("31010", "district", None, "bad_code_shape"),
        ("31010A", "district", None, "bad_code_shape"),
        ("３１０１０１", "district", None, "bad_code_shape"),  # full-width digits
        ("310101001", "district", None, "bad_code_shape"),
        ("310104001", "street", "310101", "code_not_under_parent"),
        ("31010100100201", "grid", "310101001003", "code_not_under_parent"),
        ("310101001", None, "310101", None),  # no level: any level's length is accepted
        ("3101010", None, None, "bad_code_shape"),
        ("", "district", None, "bad_code_shape"),
    ],
)
def test_national(code, level, parent, reason):
    assert check_code(code, level, parent, NATIONAL) == reason


def test_national_grid_digits_configurable():
    three_only = CodeRule(mode="national", grid_seq_digits=[3])
    assert three_only.grid_seq_digits == (3,)
    assert check_code("31010100100201", "grid", None, three_only) == "bad_code_shape"
    assert check_code("310101001002001", "grid", None, three_only) is None


@pytest.mark.parametrize(
    "code,ok",
    [
        ("G-001/东区", True),
        ("x" * 64, True),
        ("x" * 65, False),
        ("a b", False),
        ("a\tb", False),
        ("a\x00", False),
        ("a\u3000b", False),
        ("", False),
    ],
)
def test_free(code, ok):
    got = check_code(code, "grid", "anything-else", CodeRule())
    assert (got is None) == ok
    if not ok:
        assert got == "bad_code_shape"


def test_bad_rule_and_level():
    with pytest.raises(ValueError):
        CodeRule(mode="strict")
    with pytest.raises(ValueError):
        CodeRule(grid_seq_digits=())
    with pytest.raises(ValueError):
        check_code("1", "province", None, CodeRule())
