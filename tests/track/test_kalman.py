import numpy as np
import pytest

from pyuniproc.track.kalman import KalmanFilterXYAH, xyah_to_xyxy, xyxy_to_xyah


def test_xyxy_to_xyah_names_centre_aspect_and_height():
    assert xyxy_to_xyah([[10, 20, 50, 100]]).tolist() == [[30, 60, 0.5, 80]]


def test_xyah_round_trips_to_xyxy():
    boxes = np.array([[10, 20, 50, 100], [0, 0, 1, 1], [5.5, 6.5, 7.5, 9.5]])
    np.testing.assert_allclose(xyah_to_xyxy(xyxy_to_xyah(boxes)), boxes)


def test_zero_height_box_does_not_divide_by_zero():
    assert np.isfinite(xyxy_to_xyah([[10, 20, 30, 20]])).all()


def test_initiate_starts_at_rest():
    mean, covariance = KalmanFilterXYAH().initiate([[30, 60, 0.5, 80]])
    assert mean.tolist() == [[30, 60, 0.5, 80, 0, 0, 0, 0]]
    assert covariance.shape == (1, 8, 8)


def test_predict_moves_by_velocity_and_grows_uncertainty():
    kf = KalmanFilterXYAH()
    mean, covariance = kf.initiate([[30, 60, 0.5, 80]])
    mean[0, 4:] = [5, -2, 0, 1]
    predicted, predicted_cov = kf.predict(mean, covariance)
    assert predicted[0, :4].tolist() == [35, 58, 0.5, 81]
    assert (np.diag(predicted_cov[0]) > np.diag(covariance[0])).all()


def test_batched_predict_equals_one_track_at_a_time():
    kf = KalmanFilterXYAH()
    mean, covariance = kf.initiate([[30, 60, 0.5, 80], [200, 90, 0.4, 150]])
    mean[:, 4:6] = [[3, 1], [-4, 0]]
    batch_mean, batch_cov = kf.predict(mean, covariance)
    for i in range(2):
        one_mean, one_cov = kf.predict(mean[i : i + 1], covariance[i : i + 1])
        np.testing.assert_allclose(batch_mean[i], one_mean[0])
        np.testing.assert_allclose(batch_cov[i], one_cov[0])


def test_update_pulls_towards_the_measurement_and_learns_velocity():
    kf = KalmanFilterXYAH()
    mean, covariance = kf.initiate([[30, 60, 0.5, 80]])
    for step in range(1, 6):  # the box moves 4 px right each frame
        mean, covariance = kf.predict(mean, covariance)
        mean, covariance = kf.update(mean, covariance, [[30 + 4 * step, 60, 0.5, 80]])
    assert mean[0, 0] == pytest.approx(50, abs=1.0)
    assert mean[0, 4] == pytest.approx(4, abs=1.0)
    np.testing.assert_allclose(covariance[0], covariance[0].T, atol=1e-9)
