"""Run mypy over estlab and fail when it reports more errors than the budget (CI keeps the count down).

Usage: ``python3 scripts/check_types.py [--max-errors N]``; settings come from ``[tool.mypy]`` in pyproject.toml.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys

#: The most mypy errors main may have; lower it as errors are fixed, never raise it.
MAX_ERRORS = 10


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-errors", type=int, default=MAX_ERRORS)
    args = parser.parse_args()
    proc = subprocess.run([sys.executable, "-m", "mypy", "estlab"], capture_output=True, text=True)
    output = proc.stdout + proc.stderr
    if proc.returncode not in (0, 1):
        print(output)
        print(f"mypy itself failed (exit code {proc.returncode})")
        return 2
    found = re.search(r"Found (\d+) errors?", output)
    errors = int(found.group(1)) if found else 0
    if errors > args.max_errors:
        print(output)
        print(f"mypy: {errors} errors, more than the budget of {args.max_errors}; fix the new ones above")
        return 1
    print(f"mypy: {errors} errors (budget {args.max_errors})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
