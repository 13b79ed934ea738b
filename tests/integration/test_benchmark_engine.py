"""benchmarks/engine.py --quick runs both engines on the same ASL and reports in the agreed format.

Speed is not asserted (machines differ); what is: the script ends with ``ratio_vs_moto=<float>``, and the
project's interpreter and moto's agree on each scenario's status, output and number of history events.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "engine.py"

AGREE = re.compile(
    r"agree scenario=(?P<scenario>\S+) status=(?P<ours_status>\w+)/(?P<moto_status>\w+) "
    r"events=(?P<ours_events>\d+)/(?P<moto_events>\d+) output=(?P<output>\w+) "
    r"results=(?P<ours_results>\d+)/(?P<moto_results>\d+) -> (?P<verdict>\w+)"
)
ROW = re.compile(
    r"^\s+(?P<engine>ours|ours\+FakeClock|moto)\s+(?P<status>\w+)\s+wall\s+(?P<seconds>[\d.]+) s\s+"
    r"events\s+(?P<events>\d+)\s+(?P<us>[\d.]+) us/transition",
    re.MULTILINE,
)


@pytest.fixture(scope="module")
def quick_run() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"], cwd=ROOT, capture_output=True, text=True, timeout=180
    )


@pytest.mark.slow
def test_quick_run_ends_with_the_ratio_line(quick_run: subprocess.CompletedProcess[str]) -> None:
    assert quick_run.returncode == 0, quick_run.stdout + quick_run.stderr
    last_line = quick_run.stdout.strip().splitlines()[-1]
    match = re.fullmatch(r"ratio_vs_moto=(\d+(?:\.\d+)?)", last_line)
    assert match, last_line
    assert float(match.group(1)) > 0


@pytest.mark.slow
def test_both_engines_agree_on_each_scenario(quick_run: subprocess.CompletedProcess[str]) -> None:
    agreements = [match.groupdict() for match in AGREE.finditer(quick_run.stdout)]
    assert {a["scenario"] for a in agreements} == {"dag_2x20", "map_100"}, quick_run.stdout
    for agreement in agreements:
        assert agreement["ours_status"] == agreement["moto_status"] == "SUCCEEDED", agreement
        assert agreement["ours_events"] == agreement["moto_events"], agreement
        assert int(agreement["ours_events"]) > 0, agreement
        assert agreement["output"] == "same", agreement
        assert agreement["ours_results"] == agreement["moto_results"], agreement
        assert agreement["verdict"] == "yes", agreement
    assert "engines agree on every scenario: yes" in quick_run.stdout


@pytest.mark.slow
def test_every_engine_reports_time_events_and_cost_per_transition(
    quick_run: subprocess.CompletedProcess[str],
) -> None:
    rows = [match.groupdict() for match in ROW.finditer(quick_run.stdout)]
    assert sorted(row["engine"] for row in rows) == sorted(["ours", "ours+FakeClock", "moto"] * 2), (
        quick_run.stdout
    )
    for row in rows:
        assert row["status"] == "SUCCEEDED", row
        assert float(row["seconds"]) > 0 and int(row["events"]) > 0 and float(row["us"]) > 0, row
    assert re.search(
        r"^\s+ratio scenario=dag_2x20 moto/ours per transition = [\d.]+x$", quick_run.stdout, re.MULTILINE
    )
    assert re.search(
        r"^\s+ratio scenario=map_100 moto/ours per transition = [\d.]+x$", quick_run.stdout, re.MULTILINE
    )
    assert re.search(r"^ours overall: [\d.]+ us/transition", quick_run.stdout, re.MULTILINE)
    assert re.search(r"^goal >= 20x faster than moto: (met|NOT met)", quick_run.stdout, re.MULTILINE)
    assert re.search(r"^goal < 100 us per transition: (met|NOT met)", quick_run.stdout, re.MULTILINE)
