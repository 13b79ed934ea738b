"""How fast the `orchestrator` command starts and runs locally: ``.venv/bin/python benchmarks/cli.py``.

Runs each command end to end in a fresh interpreter (a subprocess of the installed ``orchestrator``
script), once to warm the disk cache and then ``RUNS`` times, and prints the median wall time next to
its goal (PASS/FAIL) and the CPU time the command used (user + system, its children included: on a busy
machine wall time grows, CPU time much less), plus how long ``import orchestrator.cli.app`` alone takes.
It prints; it never fails a test run. ``--runs N`` changes the number of timed runs.

Python writes bytecode caches (``__pycache__``) as a user's installation does: PYTHONDONTWRITEBYTECODE is
dropped for the runs (with it, every start compiles the project's modules again; ``--keep-env`` keeps it).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5

# (label, arguments after `orchestrator`, goal in seconds)
COMMANDS: list[tuple[str, list[str], float]] = [
    ("validate quickstart", ["validate", "examples/quickstart/workflow.yaml"], 0.35),
    ("run quickstart", ["run", "examples/quickstart/workflow.yaml", "--input", '{"orders": [3, 8, 15, 4]}'], 0.6),
    ("asl run hello", ["asl", "run", "statemachines/examples/hello.asl.json", "--input", '{"name": "you"}'], 0.4),
]


def orchestrator_command() -> list[str]:
    """The installed console script next to this interpreter (what a user types), else ``python -m``."""
    script = Path(sys.executable).with_name("orchestrator")
    if script.exists():
        return [str(script)]
    found = shutil.which("orchestrator")
    return [found] if found else [sys.executable, "-m", "orchestrator.cli"]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_run(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of ``command``, which must succeed."""
    cpu_before = _children_cpu()
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True, check=False)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {completed.returncode}:\n{completed.stderr}")
    return elapsed, _children_cpu() - cpu_before


def median_of(command: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    """Median wall and CPU seconds of ``runs`` runs, after one warm-up (disk cache, .pyc files)."""
    timed_run(command, env)
    timings = [timed_run(command, env) for _ in range(runs)]
    return statistics.median(t[0] for t in timings), statistics.median(t[1] for t in timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--keep-env", action="store_true", help="keep PYTHONDONTWRITEBYTECODE if set")
    options = parser.parse_args()
    runs = options.runs
    with tempfile.TemporaryDirectory() as home:
        # a throwaway ORCHESTRATOR_HOME: `run` must not write into the checkout's .orchestrator/
        env = os.environ | {"ORCHESTRATOR_HOME": home}
        if not options.keep_env:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
        base = orchestrator_command()
        load = " ".join(f"{value:.2f}" for value in os.getloadavg())
        print(f"{' '.join(base)}: median of {runs} runs after one warm-up; {os.cpu_count()} CPUs, load {load}; "
              f"bytecode cache {'off' if env.get('PYTHONDONTWRITEBYTECODE') else 'on'}")
        for label, arguments, goal in COMMANDS:
            seconds, cpu = median_of(base + arguments, env, runs)
            verdict = "PASS" if seconds <= goal else "FAIL"
            print(f"  {label:<28} {seconds:6.3f} s  (cpu {cpu:5.3f} s)   goal {goal:.2f} s   {verdict}")
        import_only = [sys.executable, "-c", "import orchestrator.cli.app"]
        baseline = [sys.executable, "-c", "pass"]
        seconds, cpu = median_of(import_only, env, runs)
        interpreter, _ = median_of(baseline, env, runs)
        print(f"  {'import orchestrator.cli.app':<28} {seconds:6.3f} s  (cpu {cpu:5.3f} s)   "
              f"{seconds - interpreter:.3f} s over a bare interpreter's {interpreter:.3f} s")


if __name__ == "__main__":
    main()
