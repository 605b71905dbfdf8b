"""How long `archgen new --defaults` takes, against plain `copier copy` of the same
template measured in the same run (the baseline: what archgen adds on top of copier is
validation, the temp-dir move and git init).

    python benchmarks/bench_new.py [--runs 5]

Prints the median wall time of each, their ratio and the generated file count.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    from archgen.template import export_template, template_root

    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        plain = export_template(template_root(), work / "template")
        archgen, copier = [], []
        for run in range(runs):
            archgen.append(
                timed([str(BIN / "archgen"), "new", str(work / f"a{run}"), "--defaults"])
            )
            copier.append(
                timed(
                    [
                        str(BIN / "copier"),
                        "copy",
                        "--defaults",
                        "--quiet",
                        str(plain),
                        str(work / f"c{run}"),
                    ]
                )
            )
        files = sum(1 for p in (work / "a0").rglob("*") if p.is_file() and ".git" not in p.parts)
    a, c = statistics.median(archgen), statistics.median(copier)
    print(
        f"archgen new --defaults: median {a * 1000:.0f} ms over {runs} runs "
        f"(min {min(archgen) * 1000:.0f}, max {max(archgen) * 1000:.0f})"
    )
    print(f"copier copy (baseline): median {c * 1000:.0f} ms over {runs} runs")
    print(f"ratio archgen/copier:   {a / c:.2f}x")
    print(f"generated files:        {files} (outside .git)")


if __name__ == "__main__":
    main()
