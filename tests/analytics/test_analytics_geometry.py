import numpy as np

from pyuniproc.analytics.geometry import (
    distance_to_polygon_edges,
    points_in_polygon,
    position_along_segment,
    signed_distance_to_line,
)


def test_positive_side_is_right_of_a_to_b_on_the_picture():
    a, b = np.array([0.0, 100.0]), np.array([200.0, 100.0])  # left to right
    points = np.array([[50.0, 130.0], [50.0, 90.0], [500.0, 100.0]])  # below, above, on (beyond B)
    np.testing.assert_allclose(signed_distance_to_line(points, a, b), [30.0, -10.0, 0.0])


def test_position_along_segment():
    a, b = np.array([0.0, 0.0]), np.array([10.0, 0.0])
    assert position_along_segment(np.array([5.0, 3.0]), a, b) == 0.5
    assert position_along_segment(np.array([-2.0, 0.0]), a, b) == -0.2


def test_points_in_concave_polygon():
    u_shape = np.array([[0, 0], [30, 0], [30, 30], [20, 30], [20, 10], [10, 10], [10, 30], [0, 30]], float)
    points = np.array([[5, 20], [15, 20], [15, 5], [25, 25], [40, 5]], float)
    assert points_in_polygon(points, u_shape).tolist() == [True, False, True, True, False]


def test_distance_to_polygon_edges():
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], float)
    points = np.array([[5, 5], [5, 12], [13, 14], [1, 5]], float)
    np.testing.assert_allclose(distance_to_polygon_edges(points, square), [5, 2, 5, 1])
