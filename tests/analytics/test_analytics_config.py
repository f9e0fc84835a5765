from dataclasses import dataclass

import pytest

from pyuniproc.analytics import CameraAnalytics, LineConfig, ZoneConfig, parse_lines, parse_zones

DOOR = {"name": "door", "points": [[100, 300], [400, 300]]}
BENCH = {"name": "bench", "polygon": [[10, 10], [200, 10], [200, 150], [10, 150]]}


def test_mappings_become_typed_configs():
    (line,) = parse_lines([DOOR])
    (zone,) = parse_zones([BENCH | {"min_offset_px": 3}])
    assert line == LineConfig("door", ((100.0, 300.0), (400.0, 300.0)))
    assert zone.polygon[2] == (200.0, 150.0) and zone.min_offset_px == 3.0
    assert parse_lines(None) == () and parse_zones([]) == ()


def test_tuples_and_spec_objects_are_accepted():
    @dataclass(frozen=True)
    class LineSpec:  # the shape of pyuniproc.config.cameras.LineSpec
        name: str
        points: tuple

    lines = parse_lines(
        [("door", [[0, 0], [10, 0]]), ("gate", [[0, 5], [10, 5]], 2.0), LineSpec("exit", ((1, 1), (2, 2)))]
    )
    zones = parse_zones([("bench", [[0, 0], [5, 0], [0, 5]])])
    assert [line.name for line in lines] == ["door", "gate", "exit"] and lines[1].min_offset_px == 2.0
    assert zones[0].polygon == ((0.0, 0.0), (5.0, 0.0), (0.0, 5.0))


def test_configs_can_be_dataclasses_too():
    analytics = CameraAnalytics(
        "cam1", lines=[LineConfig("a", ((0, 0), (1, 1)))], zones=[ZoneConfig("z", ((0, 0), (5, 0), (0, 5)))]
    )
    assert analytics.line_counts() == {"a": {"in": 0, "out": 0}}
    assert analytics.zone_occupancy() == {"z": 0}


@pytest.mark.parametrize(
    ("lines", "zones", "message"),
    [
        ([{"name": "door", "points": [[0, 0]]}], [], "line 'door'.*exactly 2 points"),
        ([{"name": "door", "points": [[0, 0], [1, 1], [2, 2]]}], [], "line 'door'.*exactly 2 points"),
        ([{"name": "door", "points": [[5, 5], [5, 5]]}], [], "line 'door'.*same"),
        ([{"name": "door", "points": [[0, "x"], [1, 1]]}], [], "line 'door'.*\\[x, y\\] numbers"),
        ([{"name": "door", "points": [[0, float("nan")], [1, 1]]}], [], "line 'door'.*non-finite"),
        ([{"name": "door", "points": [[0, 0], [1, 1]], "min_offset_px": -1}], [], "line 'door'.*>= 0"),
        ([{"name": "", "points": [[0, 0], [1, 1]]}], [], "name must be a non-empty string"),
        ([DOOR, DOOR], [], "duplicate line name 'door' \\(lines\\[0\\] and lines\\[1\\]\\)"),
        ([{"name": "door", "point": [[0, 0], [1, 1]]}], [], "lines\\[0\\]: unknown key\\(s\\) \\['point'\\]"),
        ([{"name": "door"}], [], "lines\\[0\\] \\('door'\\): missing key\\(s\\) \\['points'\\]"),
        ([42], [], "lines\\[0\\] must be a LineConfig"),
        ([("door", [[0, 0], [1, 1]], 1.0, "extra")], [], "lines\\[0\\] must be a LineConfig"),
        ({"name": "door"}, [], "lines must be a list"),
        ([], [{"name": "bench", "polygon": [[0, 0], [1, 1]]}], "zone 'bench'.*at least 3 points"),
        ([], [{"name": "bench", "polygon": [[0, 0], [1, 1], [2, 2]]}], "zone 'bench'.*zero area"),
        ([], [BENCH, BENCH], "duplicate zone name 'bench'"),
    ],
)
def test_bad_config_is_rejected_naming_the_item(lines, zones, message):
    with pytest.raises(ValueError, match=message):
        CameraAnalytics("cam1", lines=lines, zones=zones)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"camera_id": ""}, "camera_id"),
        ({"camera_id": "cam1", "track_timeout_seconds": 0}, "track_timeout_seconds must be > 0, got 0"),
        ({"camera_id": "cam1", "track_timeout_seconds": float("inf")}, "track_timeout_seconds"),
    ],
)
def test_bad_camera_arguments_are_rejected(kwargs, message):
    camera_id = kwargs.pop("camera_id")
    with pytest.raises(ValueError, match=message):
        CameraAnalytics(camera_id, **kwargs)


def test_a_line_and_a_zone_may_share_a_name():
    analytics = CameraAnalytics("cam1", lines=[DOOR | {"name": "x"}], zones=[BENCH | {"name": "x"}])
    assert list(analytics.line_counts()) == ["x"] and list(analytics.zone_occupancy()) == ["x"]
