"""`make demo` scores a run only against its own scenario's ground truth and shows the scores."""

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def demo_commands(*variables: str) -> list[str]:
    """The commands `make demo` would run (make -n: nothing runs)."""
    done = subprocess.run(["make", "-n", "-C", str(REPO), "demo", *variables], capture_output=True, text=True,
                          timeout=60, check=True)
    return [line for line in done.stdout.splitlines() if "/bin/pyuniproc " in line]


def test_the_default_demo_is_scored_and_its_report_shows_the_scores():
    _, score, report = demo_commands("OUT=out/x")
    assert " eval --gt samples/scenario_default --pred out/x --json out/x/eval.json" in score
    assert report.endswith(" report --run out/x --cameras samples/scenario_default/cameras.yml "
                           "--out out/x/report.html --metrics out/x/eval.json")


@pytest.mark.parametrize("variable", ["CAMERAS=samples/demo/cameras.yml", "SCENARIO=samples/demo"])
def test_a_demo_on_cameras_without_ground_truth_is_not_scored(variable):
    run, report = demo_commands(variable)
    assert "--cameras samples/demo/cameras.yml" in run and "--cameras samples/demo/cameras.yml" in report
    assert "--metrics" not in report
