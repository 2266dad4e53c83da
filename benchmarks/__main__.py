"""``python -m benchmarks``: every benchmark; exit 1 if any figure is below its bar."""

import importlib
import sys

MODULES = ["benchmarks.bench_cloudsen12", "benchmarks.bench_training", "benchmarks.bench_s2_cloud",
           "benchmarks.bench_windows",
           "benchmarks.bench_beam"]


def main() -> int:
    status = 0
    for name in MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
            continue
        print(f"== {name}", flush=True)
        status |= module.main()
        print(flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
