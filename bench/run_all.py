"""Run every ``bench/bench_*.py``; write ``bench/results.json`` and the Markdown table
``bench/results.md`` (also printed).

Each benchmark prints its own human-readable lines and, given ``--json PATH``, writes a JSON
object (or a list of them) with its figures; a figure may carry ``ceiling`` (the same work done by
the bare stack in the same run) from which the ratio is computed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    results: list[dict[str, object]] = []
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            print(f"## {script.name}", flush=True)
            run = subprocess.run([sys.executable, str(script), "--json", out.name], check=False)
            if run.returncode != 0:
                failed.append(script.name)
                continue
            data = json.loads(Path(out.name).read_text() or "[]")
        results.extend(data if isinstance(data, list) else [data])
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    table = ["| benchmark | value | ceiling | ratio | target |", "|---|---|---|---|---|"]
    for r in results:
        value = r.get("value", r.get("labs_per_second"))
        ceiling = r.get("ceiling")
        ratio = f"{float(value) / float(ceiling):.2f}" if ceiling and value else "—"  # type: ignore[arg-type]
        target = r.get("target", r.get("target_labs_per_second", "—"))
        row = [str(r.get("benchmark")), f"{value} {r.get('unit', '')}", str(ceiling or "—")]
        table.append("| " + " | ".join([*row, ratio, str(target)]) + " |")
    note = (
        "Ratio = value / ceiling, both measured in the same run: for throughput the share of "
        "the bare stack's rate kept; for latency how many times the bare hop's latency."
    )
    markdown = "\n".join([*table, "", note]) + "\n"
    (HERE / "results.md").write_text(markdown)
    print("\n" + markdown)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
