"""ByteTrack behaviour, one scenario per test, on boxes a person-sized 40 x 80 px."""

import numpy as np
import pytest

from pyuniproc.track import ByteTrack
from pyuniproc.types import Detections


def box(cx: float, cy: float = 100, w: float = 40, h: float = 80) -> list[float]:
    """xyxy of a w x h box centred on (cx, cy)."""
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def frame(*boxes: list[float], scores: list[float] | None = None, **data: list) -> Detections:
    """One frame's detections, score 0.9 unless given."""
    n = len(boxes)
    return Detections(
        xyxy=np.array(boxes, dtype=np.float32).reshape(n, 4),
        confidence=[0.9] * n if scores is None else scores,
        class_id=[0] * n,
        data={k: np.asarray(v) for k, v in data.items()},
    )


def ids_by_row(out: Detections) -> dict[int, int]:
    """{input row: tracker id} of one update's output."""
    return dict(zip(out.data["detection_index"].tolist(), out.tracker_id.tolist(), strict=True))


# --- identity over time ------------------------------------------------------------------------


def test_single_box_moving_steadily_keeps_id_1():
    tracker = ByteTrack()
    for f in range(20):
        out = tracker.update(frame(box(50 + 5 * f)))
        assert out.tracker_id.tolist() == [1]
    np.testing.assert_allclose(out.xyxy[0], box(50 + 5 * 19), atol=1.0)


def test_two_boxes_crossing_paths_keep_their_ids():
    # Row 0 walks right, row 1 walks left, 10 px lower; they overlap fully around frame 20.
    tracker = ByteTrack()
    for f in range(40):
        out = tracker.update(frame(box(20 + 8 * f), box(340 - 8 * f, cy=110)))
        assert ids_by_row(out) == {0: 1, 1: 2}, f"frame {f}"


def test_id_kept_through_a_short_occlusion():
    tracker = ByteTrack(lost_track_buffer=30)
    for f in range(10):
        tracker.update(frame(box(50 + 5 * f)))
    for _ in range(10, 20):  # hidden for 10 frames
        assert len(tracker.update(frame())) == 0
    out = tracker.update(frame(box(50 + 5 * 20)))  # back where its motion says it would be
    assert out.tracker_id.tolist() == [1]


def test_gap_longer_than_the_buffer_gives_a_new_id():
    tracker = ByteTrack(lost_track_buffer=30)
    for f in range(10):
        tracker.update(frame(box(50 + 5 * f)))
    for _ in range(31):
        tracker.update(frame())
    tracker.update(frame(box(50 + 5 * 41)))  # a new track needs a second sighting
    assert tracker.update(frame(box(50 + 5 * 42))).tracker_id.tolist() == [2]


def test_buffer_scales_with_frame_rate():
    # At 60 fps a 30-frame buffer (counted at 30 fps) lasts 60 frames.
    tracker = ByteTrack(lost_track_buffer=30, frame_rate=60)
    assert tracker.max_frames_lost == 60
    tracker.update(frame(box(100)))
    for _ in range(45):
        tracker.update(frame())
    assert tracker.update(frame(box(100))).tracker_id.tolist() == [1]


# --- the two-stage association -------------------------------------------------------------------

SCORES = [0.9] * 5 + [0.3] * 5 + [0.9] * 5  # the person is half hidden on frames 5-9


@pytest.mark.parametrize(
    ("low_threshold", "reported_while_low", "id_after"),
    [
        (0.1, True, 1),  # the 0.3 boxes are matched in the second association
        (0.6, False, 2),  # second stage off (low = high): the track is lost, then a new one starts
    ],
)
def test_low_score_boxes_keep_a_track_alive(low_threshold, reported_while_low, id_after):
    tracker = ByteTrack(track_low_threshold=low_threshold, lost_track_buffer=2)
    for f, score in enumerate(SCORES):
        out = tracker.update(frame(box(50 + 5 * f), scores=[score]))
        if 5 <= f < 10:
            assert (len(out) == 1) == reported_while_low, f"frame {f}"
            if reported_while_low:
                assert out.tracker_id.tolist() == [1] and out.confidence.tolist() == [pytest.approx(0.3)]
    assert out.tracker_id.tolist() == [id_after]


def test_low_score_detections_never_start_tracks():
    tracker = ByteTrack()
    for _ in range(5):
        assert len(tracker.update(frame(box(100), scores=[0.5]))) == 0
    assert tracker.active_track_count == 0


@pytest.mark.parametrize(("score", "tracked"), [(0.65, False), (0.7, True), (0.75, True)])
def test_new_track_threshold_is_respected(score, tracked):
    tracker = ByteTrack(new_track_threshold=0.7)
    tracker.update(frame())  # not the stream's first frame, where tracks start confirmed
    for _ in range(3):
        out = tracker.update(frame(box(100), scores=[score]))
    assert (len(out) == 1) == tracked


def test_a_track_is_reported_from_its_second_sighting():
    tracker = ByteTrack()
    tracker.update(frame())
    assert len(tracker.update(frame(box(100)))) == 0  # New: could be a false positive
    assert tracker.update(frame(box(102))).tracker_id.tolist() == [1]


def test_a_one_frame_false_positive_is_dropped_without_using_an_id():
    tracker = ByteTrack()
    tracker.update(frame())
    tracker.update(frame(box(300)))  # seen once, never again
    tracker.update(frame(box(100)))
    assert tracker.update(frame(box(100))).tracker_id.tolist() == [1]


def test_minimum_consecutive_frames_delays_reporting():
    tracker = ByteTrack(minimum_consecutive_frames=3)
    reported = [len(tracker.update(frame(box(100)))) for _ in range(4)]
    assert reported == [0, 0, 1, 1]


# --- per-instance state --------------------------------------------------------------------------


def test_two_instances_count_ids_independently_from_1():
    camera_a, camera_b = ByteTrack(), ByteTrack()
    assert camera_a.update(frame(box(100), box(300))).tracker_id.tolist() == [1, 2]
    assert camera_b.update(frame(box(500))).tracker_id.tolist() == [1]
    assert camera_a.update(frame(box(100), box(300))).tracker_id.tolist() == [1, 2]


def test_reset_forgets_tracks_and_restarts_ids():
    tracker = ByteTrack()
    tracker.update(frame(box(100), box(300)))
    tracker.reset()
    assert tracker.active_track_count == 0
    assert tracker.update(frame(box(500))).tracker_id.tolist() == [1]


def test_active_track_count_follows_tracked_state():
    tracker = ByteTrack()
    tracker.update(frame(box(100), box(300)))
    assert tracker.active_track_count == 2
    tracker.update(frame(box(100)))  # the other is lost, not active
    assert tracker.active_track_count == 1


# --- output columns ------------------------------------------------------------------------------


def test_output_carries_data_columns_and_detection_index():
    tracker = ByteTrack()
    tracker.update(frame(box(100), box(300), embedding=[[1, 0], [0, 1]]))
    # Next frame the detector lists them the other way round, plus a low-score stray.
    out = tracker.update(
        frame(box(700), box(302), box(101), scores=[0.2, 0.9, 0.9], embedding=[[9, 9], [0, 2], [2, 0]])
    )
    assert out.tracker_id.tolist() == [1, 2]
    assert out.data["detection_index"].tolist() == [2, 1]
    assert out.data["embedding"].tolist() == [[2, 0], [0, 2]]
    assert out.data["detection_index"].dtype == np.int64


def test_output_data_holds_only_detection_index_when_input_has_no_data():
    out = ByteTrack().update(frame(box(100)))
    assert set(out.data) == {"detection_index"}


def test_empty_frame_keeps_the_input_columns_with_zero_rows():
    tracker = ByteTrack()
    out = tracker.update(frame(embedding=np.zeros((0, 8), np.float32)))
    assert out.data["embedding"].shape == (0, 8) and out.data["detection_index"].shape == (0,)


def test_output_box_is_the_kalman_corrected_box_with_detection_score_and_class():
    tracker = ByteTrack()
    tracker.update(frame(box(100)))
    detections = Detections(xyxy=[box(104)], confidence=[0.8], class_id=[3])
    out = tracker.update(detections)
    assert 100 < out.xyxy[0, 0] + 20 < 104  # between the prediction and the measurement
    assert out.confidence.tolist() == [pytest.approx(0.8)] and out.class_id.tolist() == [3]


# --- frames without a detector run ---------------------------------------------------------------


def test_predict_only_moves_boxes_with_their_velocity():
    tracker = ByteTrack()
    for f in range(10):
        last = tracker.update(frame(box(100 + 10 * f)))
    coasted = [tracker.predict_only() for _ in range(3)]
    centres = [float(c.xyxy[0, [0, 2]].mean()) for c in [last, *coasted]]
    assert np.diff(centres) == pytest.approx([10, 10, 10], abs=1.5)
    assert all(c.tracker_id.tolist() == [1] for c in coasted)
    assert coasted[0].data["detection_index"].tolist() == [-1]
    # and the next detector frame picks the person up where the motion model put it
    assert tracker.update(frame(box(100 + 10 * 13))).tracker_id.tolist() == [1]


def test_predict_only_creates_nothing():
    tracker = ByteTrack()
    assert len(tracker.predict_only()) == 0
    assert tracker.active_track_count == 0


@pytest.mark.parametrize(("coasted_frames", "id_after"), [(3, 1), (6, 2)])
def test_lost_tracks_age_out_during_predict_only(coasted_frames, id_after):
    tracker = ByteTrack(lost_track_buffer=5)
    tracker.update(frame(box(100)))
    tracker.update(frame())  # missed: lost
    for _ in range(coasted_frames):
        tracker.predict_only()
    tracker.update(frame(box(100)))
    assert tracker.update(frame(box(100))).tracker_id.tolist() == [id_after]


# --- construction --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"track_high_threshold": 1.5},
        {"track_low_threshold": -0.1},
        {"track_low_threshold": 0.7},  # above the high threshold
        {"new_track_threshold": 0.5},  # below the high threshold: would do nothing
        {"match_iou_threshold": 0},
        {"second_match_iou_threshold": 2},
        {"unconfirmed_match_iou_threshold": "0.7"},
        {"lost_track_buffer": -1},
        {"lost_track_buffer": 2.5},
        {"frame_rate": 0},
        {"fuse_score": "yes"},
        {"minimum_consecutive_frames": 0},
    ],
)
def test_bad_options_raise_value_error_quoting_the_value(options):
    ((name, value),) = options.items()
    with pytest.raises(ValueError, match=f"{name}={value!r}".replace(".", r"\.")):
        ByteTrack(**options)


def test_reconfigure_keeps_tracks_and_ids_and_checks_values():
    import pytest

    from pyuniproc.track import create_tracker
    from pyuniproc.types import Detections

    tracker = create_tracker("bytetrack", frame_rate=10)
    box = Detections(xyxy=[[10, 10, 30, 60]], confidence=[0.9], class_id=[0])
    for _ in range(3):
        first = tracker.update(box)
    tracker.reconfigure(lost_track_buffer=5, track_high_threshold=0.55, new_track_threshold=0.65)
    assert (tracker.lost_track_buffer, tracker.track_high_threshold) == (5, 0.55)
    assert tracker.update(box).tracker_id.tolist() == first.tracker_id.tolist()
    with pytest.raises(ValueError, match="track_high_threshold"):
        tracker.reconfigure(track_high_threshold=1.5)
    assert tracker.track_high_threshold == 0.55


# --- weak starts: people the detector is never sure of -------------------------------------------


WEAK = dict(weak_start_threshold=0.2, weak_start_frames=3, weak_start_motion=0.25)


def test_a_person_never_scored_confidently_gets_no_track_without_weak_starts():
    tracker = ByteTrack(track_high_threshold=0.35, track_low_threshold=0.15, new_track_threshold=0.6)
    for f in range(20):
        assert len(tracker.update(frame(box(50 + 8 * f), scores=[0.3]))) == 0


def test_a_walking_person_never_scored_confidently_gets_one_track_with_weak_starts():
    tracker = ByteTrack(track_high_threshold=0.35, track_low_threshold=0.15, new_track_threshold=0.6, **WEAK)
    first_seen = None
    for f in range(20):
        out = tracker.update(frame(box(50 + 8 * f), scores=[0.3]))
        if len(out) and first_seen is None:
            first_seen = f
        if first_seen is not None:
            assert out.tracker_id.tolist() == [1], f"frame {f}"
    # three sightings and 20 px (a quarter of 80) walked from where it started: by the fourth frame
    assert first_seen is not None and first_seen <= 4


def test_scenery_standing_still_never_becomes_a_track():
    # A parked bicycle the detector finds at 0.3 on every frame: found again and again, never walks.
    tracker = ByteTrack(track_high_threshold=0.35, track_low_threshold=0.15, new_track_threshold=0.6, **WEAK)
    for _ in range(30):
        assert len(tracker.update(frame(box(200), scores=[0.3]))) == 0


def test_a_candidate_missed_once_starts_over():
    tracker = ByteTrack(track_high_threshold=0.35, track_low_threshold=0.15, new_track_threshold=0.6,
                        weak_start_threshold=0.2, weak_start_frames=4, weak_start_motion=0.0)
    seen = []
    for f in range(12):
        boxes = [] if f in (2, 5, 8) else [box(50 + 8 * f)]  # never four sightings in a row
        seen.append(len(tracker.update(frame(*boxes, scores=[0.3] * len(boxes)))))
    assert seen == [0] * 12


def test_an_unsure_box_on_a_tracked_person_is_not_a_second_person():
    # The detector's upper-body box (score 0.3) beside the full box of a tracked person.
    tracker = ByteTrack(track_high_threshold=0.35, track_low_threshold=0.15, new_track_threshold=0.6,
                        weak_start_threshold=0.2, weak_start_frames=2, weak_start_motion=0.0)
    for f in range(10):
        full, upper = box(50 + 8 * f), box(50 + 8 * f, cy=80, h=40)
        out = tracker.update(frame(full, upper, scores=[0.9, 0.3]))
    assert out.tracker_id.tolist() == [1]


def test_weak_evidence_refinds_a_lost_track():
    options = dict(track_high_threshold=0.35, track_low_threshold=0.15, new_track_threshold=0.6)
    for weak, expected in ((None, []), (WEAK, [1])):
        tracker = ByteTrack(**options, **(weak or {}))
        for f in range(5):
            tracker.update(frame(box(50 + 8 * f)))
        tracker.update(frame())  # lost for a frame
        out = tracker.update(frame(box(50 + 8 * 6), scores=[0.3]))  # back, seen unsurely
        assert out.tracker_id.tolist() == expected


@pytest.mark.parametrize("bad, message", [
    (dict(weak_start_threshold=0.1), "at least track_low_threshold"),
    (dict(weak_start_threshold=0.7), "below new_track_threshold"),
    (dict(weak_start_threshold=0.2, weak_start_frames=1), "weak_start_frames"),
    (dict(weak_start_threshold=0.2, weak_start_motion=-1), "weak_start_motion"),
])
def test_bad_weak_start_settings_are_refused_by_name(bad, message):
    with pytest.raises(ValueError, match=message):
        ByteTrack(track_high_threshold=0.35, track_low_threshold=0.15, new_track_threshold=0.6, **bad)


# --- squat boxes: people whose legs are hidden behind a fence ----------------------------------------

MODULE = dict(track_high_threshold=0.35, track_low_threshold=0.15, new_track_threshold=0.6,
              match_iou_threshold=0.9, second_match_iou_threshold=0.7, fuse_score=False, lost_track_buffer=90,
              frame_rate=10, minimum_consecutive_frames=2)
SQUAT = dict(squat_box_aspect=1.6, completed_box_aspect=2.2)


def fence_walk(tracker: ByteTrack) -> list[Detections]:
    """A person 40 px wide and 88 tall, top at row 60, walking right 6 px a frame: for 10 frames the
    detector boxes only the 36 px above a fence, then the fence ends and it boxes the whole person."""
    out = []
    for f in range(20):
        x = 50 + 6 * f
        height = 36 if f < 10 else 88
        out.append(tracker.update(frame([x, 60, x + 40, 60 + height], scores=[0.7])))
    return out


def test_a_person_behind_a_fence_is_tracked_whole_and_keeps_one_id_past_the_fence():
    out = fence_walk(ByteTrack(**MODULE, **SQUAT))
    assert [o.tracker_id.tolist() for o in out[1:]] == [[1]] * 19
    x = 50 + 6 * 5
    np.testing.assert_allclose(out[5].xyxy[0], [x, 60, x + 40, 60 + 88], atol=1.0)  # 2.2 widths tall


def test_without_completion_the_track_follows_the_fence_edge():
    out = fence_walk(ByteTrack(**MODULE))
    x = 50 + 6 * 5
    np.testing.assert_allclose(out[5].xyxy[0], [x, 60, x + 40, 96], atol=1.0)


def test_a_standing_person_is_tracked_the_same_with_completion_on_or_off():
    on, off = ByteTrack(**MODULE, **SQUAT), ByteTrack(**MODULE)
    for f in range(15):
        dets = frame(box(50 + 5 * f), box(300, w=30, h=60), scores=[0.8, 0.5])
        a, b = on.update(dets), off.update(dets)
        np.testing.assert_array_equal(a.xyxy, b.xyxy)
        np.testing.assert_array_equal(a.tracker_id, b.tracker_id)


def test_completion_is_a_live_setting():
    tracker = ByteTrack(**MODULE)
    tracker.reconfigure(**SQUAT)
    assert (tracker.squat_box_aspect, tracker.completed_box_aspect) == (1.6, 2.2)
    with pytest.raises(ValueError, match="completed_box_aspect=1.0 must be at least squat_box_aspect=1.6"):
        tracker.reconfigure(completed_box_aspect=1.0)
    assert tracker.completed_box_aspect == 2.2


@pytest.mark.parametrize("bad, message", [
    (dict(squat_box_aspect=0), "squat_box_aspect=0 must be a number above 0"),
    (dict(squat_box_aspect="1.6"), "squat_box_aspect='1.6'"),
    (dict(squat_box_aspect=1.6, completed_box_aspect=1.5), "completed_box_aspect=1.5 must be at least"),
    (dict(completed_box_aspect=-2), "completed_box_aspect=-2"),
])
def test_bad_squat_box_settings_are_refused_by_name(bad, message):
    with pytest.raises(ValueError, match=message):
        ByteTrack(**MODULE, **bad)


# --- OC-SORT's occlusion rules (momentum, re-update, recovery) ------------------------------------


CROWD = dict(track_high_threshold=0.35, track_low_threshold=0.15, new_track_threshold=0.6,
             match_iou_threshold=0.9, second_match_iou_threshold=0.7, fuse_score=False, lost_track_buffer=90,
             frame_rate=10, minimum_consecutive_frames=2)
"""The module's tracker values (module/module.yml)."""


def crossing(tracker: ByteTrack) -> list[dict[int, int]]:
    """Two people walking towards each other 6 px a frame on one line, A (row 0) in front: while they are
    closer than 30 px only B's visible half is detected, closer than 10 px B is not detected at all.
    Returns ids_by_row of every frame."""
    out = []
    for f in range(20):
        xa, xb = f * 6.0, 120.0 - f * 6.0
        if abs(xa - xb) < 10:
            boxes = [box(xa)]
        elif abs(xa - xb) < 30:
            boxes = [box(xa), box(xb + np.sign(xb - xa) * 10, w=20)]
        else:
            boxes = [box(xa), box(xb)]
        out.append(ids_by_row(tracker.update(frame(*boxes))))
    return out


def test_crossing_people_swap_ids_without_momentum():
    ids = crossing(ByteTrack(**CROWD))
    assert ids[1] == {0: 1, 1: 2}
    assert ids[-1] == {0: 2, 1: 1}


@pytest.mark.parametrize("weight", [0.2, 0.4])
def test_crossing_people_keep_their_ids_with_momentum(weight):
    ids = crossing(ByteTrack(**CROWD, momentum_weight=weight))
    assert ids[1] == ids[-1] == {0: 1, 1: 2}


def test_options_off_are_the_plain_tracker():
    plain, off = ByteTrack(**CROWD), ByteTrack(**CROWD, momentum_weight=0.0, observation_reupdate=False,
                                                recovery_match_iou_threshold=None)
    for f in range(20):
        dets = frame(box(f * 6.0), box(120.0 - f * 6.0, 110))
        a, b = plain.update(dets), off.update(dets)
        np.testing.assert_array_equal(a.xyxy, b.xyxy)
        np.testing.assert_array_equal(a.tracker_id, b.tracker_id)


def _hidden_walk(**options) -> tuple[Detections, Detections]:
    """A person walking 4 px a frame, hidden on frames 4-5, found on frame 6; returns the re-found
    frame's output and the next predict_only's."""
    tracker = ByteTrack(**options)
    for f in range(7):
        tracker.update(frame(box(100 + 4 * f)) if f not in (4, 5) else frame())
    found = tracker.update(frame(box(100 + 4 * 7)))
    return found, tracker.predict_only()


def test_reupdate_puts_a_refound_track_where_seeing_every_frame_would_have():
    tracker = ByteTrack()
    for f in range(8):
        seen = tracker.update(frame(box(100 + 4 * f)))
    seen_next = tracker.predict_only()
    found, found_next = _hidden_walk(observation_reupdate=True)
    assert found.tracker_id.tolist() == [1]
    np.testing.assert_allclose(found.xyxy, seen.xyxy, atol=1e-3)
    np.testing.assert_allclose(found_next.xyxy - found.xyxy, seen_next.xyxy - seen.xyxy, atol=1e-3)
    # Without it the re-found track keeps what coasting did to its filter: a different box and velocity.
    coasted, _ = _hidden_walk()
    assert np.abs(coasted.xyxy - seen.xyxy).max() > 0.01


def test_recovery_refinds_a_person_who_stopped_while_hidden():
    def stopped(**options) -> list[int]:
        tracker = ByteTrack(**options)
        for f in range(6):
            tracker.update(frame(box(100 + 10 * f)))  # walking 10 px a frame
        for _ in range(5):
            tracker.update(frame())  # hidden; the track coasts on, 50 px past where they stopped
        tracker.update(frame(box(150)))
        return tracker.update(frame(box(150))).tracker_id.tolist()

    assert stopped() == [2]
    assert stopped(recovery_match_iou_threshold=0.7) == [1]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (dict(momentum_weight=-0.1), "momentum_weight=-0.1 must be a number of at least 0"),
        (dict(momentum_weight="0.2"), "momentum_weight='0.2'"),
        (dict(momentum_frames=0), "momentum_frames=0 must be an integer >= 1"),
        (dict(momentum_frames=11), "momentum_frames=11 must be at most 10"),
        (dict(observation_reupdate="yes"), "observation_reupdate='yes' must be True or False"),
        (dict(recovery_match_iou_threshold=0), "recovery_match_iou_threshold=0 must be above 0"),
        (dict(recovery_match_iou_threshold=1.5), "recovery_match_iou_threshold=1.5 must be a number in"),
    ],
)
def test_bad_occlusion_settings_are_refused_by_name(bad, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        ByteTrack(**bad)


def test_occlusion_rules_are_live_settings():
    tracker = ByteTrack()
    tracker.update(frame(box(100)))
    tracker.reconfigure(momentum_weight=0.2, momentum_frames=2, observation_reupdate=True,
                        recovery_match_iou_threshold=0.7)
    assert (tracker.momentum_weight, tracker.momentum_frames) == (0.2, 2)
    assert tracker.observation_reupdate and tracker.recovery_match_iou_threshold == 0.7
    assert tracker.update(frame(box(104))).tracker_id.tolist() == [1]
