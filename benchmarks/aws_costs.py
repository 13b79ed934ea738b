"""What workflows cost on AWS: state transitions, history events and Lambda invocations per step, per retry
and per pause, measured from execution histories on the moto deployment of template.yaml
(tests/support/aws_chain.py), and priced at the published rates.

    .venv/bin/python benchmarks/aws_costs.py

Runs 10- and 100-step workflows (a chain: one parallel group per step; a fan-out: one group), a step
retried twice, and a paused-and-resumed execution, each from the API to the recorded end. Per-step figures
are marginal (100-step minus 10-step, over 90); fixed figures are what one execution costs besides.
Lambda duration is not measurable here: the price assumes the template's 512 MB (ScriptRunner 1024 MB)
and an average duration per invocation (--ms, default 150 ms: one store round trip or three, warm).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")

from support.aws_chain import AwsChain  # noqa: E402
from support.aws_cost_model import (  # noqa: E402
    PRICE_PER_GB_SECOND_ARM64,
    PRICE_PER_REQUEST,
    PRICE_PER_TRANSITION,
    Measured,
    chain_workflow,
    fan_out_workflow,
    flaky_workflow,
    measure,
)


def lambda_cost(measured: Measured, ms: float, memory_mb: dict[str, int]) -> float:
    gb_seconds = sum(count * memory_mb[name] / 1024 * ms / 1000 for name, count in measured.invocations.items())
    return measured.lambda_requests * PRICE_PER_REQUEST + gb_seconds * PRICE_PER_GB_SECOND_ARM64


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ms", type=float, default=150.0, help="assumed average Lambda duration (ms)")
    args = parser.parse_args()
    import logging

    logging.disable(logging.CRITICAL)  # moto logs every failed JSONPath probe of a Choice
    started = time.perf_counter()
    with AwsChain() as chain:
        memory = {f.logical_id: f.memory_mb for f in chain.functions.values()}
        runs = {
            "chain-10": measure(chain, "chain-10", chain_workflow("chain-10", 10)),
            "chain-100": measure(chain, "chain-100", chain_workflow("chain-100", 100)),
            "fan-out-10": measure(chain, "fan-out-10", fan_out_workflow("fan-out-10", 10)),
            "fan-out-100": measure(chain, "fan-out-100", fan_out_workflow("fan-out-100", 100)),
            "ok-script": measure(chain, "ok-script", flaky_workflow("ok-script", 0)),
            "retried-twice": measure(chain, "retried-twice", flaky_workflow("retried-twice", 2)),
            "chain-2": measure(chain, "chain-2", chain_workflow("chain-2", 2)),
            "chain-2-paused": measure(chain, "chain-2-paused", chain_workflow("chain-2-paused", 2), pause_before="s1"),
        }
    for run in runs.values():
        assert run.status == "completed", (run.label, run.status)

    print(f"{'run':<16}{'steps':>6}{'events':>8}{'transitions':>13}{'lambda':>8}  invocations")
    for run in runs.values():
        calls = ", ".join(f"{name.removesuffix('Function')} {n}" for name, n in sorted(run.invocations.items()) if n)
        print(f"{run.label:<16}{run.steps:>6}{run.history_events:>8}{run.transitions:>13}{run.lambda_requests:>8}  {calls}")

    def per(a: str, b: str, n: int, attribute: str) -> float:
        return (getattr(runs[b], attribute) - getattr(runs[a], attribute)) / n

    print()
    print("marginal figures")
    for shape in ("chain", "fan-out"):
        events = per(f"{shape}-10", f"{shape}-100", 90, "history_events")
        transitions = per(f"{shape}-10", f"{shape}-100", 90, "transitions")
        requests = per(f"{shape}-10", f"{shape}-100", 90, "lambda_requests")
        fixed = runs[f"{shape}-10"].transitions - 10 * transitions
        print(f"  per step ({shape:<7}): {events:5.1f} history events, {transitions:5.1f} transitions, "
              f"{requests:.1f} Lambda invocations; fixed per execution: {fixed:.0f} transitions")
    for label, a, b, n in (("per retry", "ok-script", "retried-twice", 2), ("per pause", "chain-2", "chain-2-paused", 1)):
        print(f"  {label:<18}: {per(a, b, n, 'history_events'):5.1f} history events, "
              f"{per(a, b, n, 'transitions'):5.1f} transitions, {per(a, b, n, 'lambda_requests'):.1f} Lambda invocations")

    print()
    print(f"1,000 steps at the published prices (Standard ${PRICE_PER_TRANSITION * 1000:.3f} per 1,000 transitions; "
          f"Lambda arm64 ${PRICE_PER_REQUEST * 1e6:.2f} per 1M requests + ${PRICE_PER_GB_SECOND_ARM64} per GB-s, "
          f"{args.ms:.0f} ms per invocation at the template's memory sizes):")
    for shape in ("chain", "fan-out"):
        small, big = runs[f"{shape}-10"], runs[f"{shape}-100"]
        transitions = (big.transitions - small.transitions) / 90 * 1000
        lambda_per_step = (lambda_cost(big, args.ms, memory) - lambda_cost(small, args.ms, memory)) / 90
        sfn = transitions * PRICE_PER_TRANSITION
        lam = lambda_per_step * 1000
        print(f"  {shape:<8}: {transitions:,.0f} transitions ${sfn:.4f} + Lambda ${lam:.4f} = ${sfn + lam:.4f}")
    retry = runs["retried-twice"]
    extra_sfn = per("ok-script", "retried-twice", 2, "transitions") * PRICE_PER_TRANSITION
    extra_lambda = (lambda_cost(retry, args.ms, memory) - lambda_cost(runs["ok-script"], args.ms, memory)) / 2
    print(f"  each retry adds ${extra_sfn + extra_lambda:.7f} (1,000 retries: ${1000 * (extra_sfn + extra_lambda):.4f})")
    print(f"\nmeasured in {time.perf_counter() - started:.1f} s on moto")
    return 0


if __name__ == "__main__":
    sys.exit(main())
