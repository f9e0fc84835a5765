"""Ground-plane calibration: where people stand, in metres on one site plane.

    homography  fit (normalised DLT) and apply plane-to-plane maps; `DegenerateCalibration` names why a set
                of point pairs cannot fix one (too few, on one line, repeated).
    robust      RANSAC fitting for correspondences of which some are wrong (what fusion learns from).
    ground      `GroundCalibration`: one camera's image foot point -> site plane, with per-point errors.
    command     `pyuniproc calibrate`: fit and check every calibration of a cameras file.

Pure numpy; the cameras file loader (`pyuniproc.config.cameras`) and fusion import it, never the reverse.
"""

from pyuniproc.calibration.ground import GroundCalibration
from pyuniproc.calibration.homography import (
    DegenerateCalibration,
    apply_homography,
    fit_homography,
    transfer_errors,
)
from pyuniproc.calibration.robust import RobustFit, ransac_homography

__all__ = [
    "DegenerateCalibration",
    "GroundCalibration",
    "RobustFit",
    "apply_homography",
    "fit_homography",
    "ransac_homography",
    "transfer_errors",
]
