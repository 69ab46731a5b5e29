"""In-process CTCAE lab grading throughput on one core.

Usage: .venv/bin/python bench/bench_grading.py [--n 300000] [--json PATH]

Grades a realistic mix of analytes, units and reference ranges (values as JSON would deliver
them: ints and floats) and prints labs per second. The last stdout line is the figure as JSON;
--json also writes it to PATH.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.safety_api.ctcae import grade_lab

TARGET_PER_SECOND = 100_000

# (analyte, unit, ref_low, ref_high, typical value range, weight, extra kwargs)
_Row = tuple[str, str, float | None, float | None, tuple[float, float], int, dict[str, Any]]
_MIX: list[_Row] = [
    ("ALT", "U/L", 7, 40, (5, 900), 6, {}),
    ("AST", "U/L", 8, 35, (5, 700), 6, {}),
    ("ALP", "U/L", 40, 130, (30, 1500), 4, {}),
    ("GGT", "U/L", 9, 48, (5, 1200), 2, {}),
    ("BILI", "mg/dL", 0.1, 1.2, (0.2, 14), 4, {}),
    ("BILI", "umol/L", 2, 21, (3, 240), 2, {}),
    ("ALB", "g/dL", 3.5, 5.0, (1.5, 5.2), 3, {}),
    ("ALB", "g/L", 35, 50, (15, 52), 1, {}),
    ("INR", "{INR}", 0.8, 1.2, (0.8, 4), 2, {}),
    ("INR", "1", 0.8, 1.2, (1.5, 5), 1, {"anticoagulated": True, "baseline": 2.5}),
    ("NEUT", "10*9/L", 1.8, 7.7, (0.1, 9), 5, {}),
    ("NEUT", "/mm3", 1800, 7700, (100, 9000), 2, {}),
    ("PLT", "10*3/uL", 150, 400, (10, 450), 5, {}),
    ("WBC", "10*9/L", 4.0, 11.0, (0.5, 14), 4, {}),
    ("LYMPH", "10*9/L", 1.0, 4.8, (0.1, 4), 4, {}),
    ("HGB", "g/dL", 12.0, 16.0, (6, 17), 4, {}),
    ("HGB", "g/L", 120, 160, (60, 170), 1, {}),
    ("HGB", "mmol/L", 7.5, 9.9, (3.5, 10.5), 1, {}),
    ("CREAT", "mg/dL", 0.6, 1.2, (0.4, 8), 3, {}),
    ("CREAT", "umol/L", 53, 106, (40, 700), 1, {"baseline": 70}),
    ("K", "mmol/L", 3.5, 5.1, (2.3, 7.5), 4, {}),
    ("NA", "mmol/L", 135, 145, (115, 165), 4, {}),
    ("GLUC", "mg/dL", 70, 99, (25, 550), 3, {}),
    ("GLUC", "mmol/L", 3.9, 5.5, (1.5, 30), 1, {}),
]


def build_workload(size: int, seed: int = 90) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    weights = [row[5] for row in _MIX]
    labs = []
    for analyte, unit, low, high, (v_min, v_max), _, extra in rng.choices(_MIX, weights, k=size):
        value = round(rng.uniform(v_min, v_max), 1 if v_max < 100 else 0)
        labs.append(
            {
                "analyte": analyte,
                "value": value,
                "unit": unit,
                "ref_low": low,
                "ref_high": high,
                **extra,
            }
        )
    return labs


def run(n: int) -> dict[str, Any]:
    labs = build_workload(5_000)
    for lab in labs:  # warm-up, and proves the whole mix grades without error
        grade_lab(**lab)
    rounds = max(1, n // len(labs))
    started = time.perf_counter()
    for _ in range(rounds):
        for lab in labs:
            grade_lab(**lab)
    elapsed = time.perf_counter() - started
    graded = rounds * len(labs)
    ceiling = bare_comparisons_per_second(labs, rounds)
    return {
        "benchmark": "ctcae.grade_lab",
        "value": round(graded / elapsed),
        "unit": "labs/s",
        "ceiling": round(ceiling),
        "ratio": round(graded / elapsed / ceiling, 3),
        "labs_graded": graded,
        "seconds": round(elapsed, 3),
        "labs_per_second": round(graded / elapsed),
        "target": f">= {TARGET_PER_SECOND} labs/s",
        "target_labs_per_second": TARGET_PER_SECOND,
        "meets_target": graded / elapsed >= TARGET_PER_SECOND,
    }


def bare_comparisons_per_second(labs: list[dict[str, Any]], rounds: int) -> float:
    """The ceiling: the least any exact grader must do per lab in Python — turn the value and
    the upper limit into Decimals, divide, and compare against four thresholds."""
    edges = [Decimal(e) for e in ("1", "3.0", "5.0", "20.0")]
    started = time.perf_counter()
    for _ in range(rounds):
        for lab in labs:
            limit = lab.get("ref_high") or lab.get("ref_low") or 1
            ratio = Decimal(str(lab["value"])) / Decimal(str(limit))
            sum(ratio > edge for edge in edges)
    return rounds * len(labs) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300_000, help="gradings to time (>= 200,000)")
    parser.add_argument("--json", type=Path, help="also write the result as JSON to this path")
    args = parser.parse_args()
    result = run(max(args.n, 200_000))
    print(
        f"grading: {result['labs_per_second']:,} labs/s (target >= {TARGET_PER_SECOND:,}); "
        f"{result['labs_graded']:,} labs in {result['seconds']} s on one core; bare Decimal "
        f"ceiling {result['ceiling']:,}/s, ratio {result['ratio']}"
    )
    line = json.dumps(result)
    if args.json:
        args.json.write_text(line + "\n", encoding="utf-8")
    print(line)


if __name__ == "__main__":
    main()
