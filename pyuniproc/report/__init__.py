"""The HTML report of a run (`pyuniproc report`): per-global-id timelines across cameras, the camera
topology with observed hand-overs and travel times, thumbnails of each identity's crops, metrics.

    data     `load_run`: tracks.csv + summary.json + cameras file -> visits, identities, hand-overs
    thumbs   `make_thumbnails`: crops cut from the cameras' videos, base64 JPEG
    svg      `gantt` (timeline) and `topology` (graph) as inline SVG
    page     `render_page`: the self-contained HTML
    command  `pyuniproc report` (`register(subparsers)`) and `write_report(run_dir, ...)`
"""

from pyuniproc.report.command import write_report
from pyuniproc.report.data import load_run

__all__ = ["load_run", "write_report"]
