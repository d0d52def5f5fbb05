"""What a new workflow run costs the worker before its first line runs: the sandbox
importing the workflow's module afresh for each run, with and without a bytecode
cache, against the worker's runner, which shares the `workflows` modules across runs
(worker.WORKFLOW_RUNNER). Side by side in one run, in interleaved rounds.

    .venv/bin/python bench/workflow_runs.py [--runs 200] [--rounds 3]

Each measurement is a child process that replays a recorded ServerWorkflow history
(tests/workflows/histories) --runs times, each replay a new run on one replayer, so
the figure is the per-run cost of a server's whole recorded lifecycle: its module
import where the runner does one, plus the workflow code. Variants:

- full sandbox, no bytecode cache: PYTHONDONTWRITEBYTECODE=1 and no cache (as in the
  project's Dockerfile and on machines that set it), so each run compiles the module;
- full sandbox, bytecode cache: the module compiled once into a private cache;
- shared workflows modules: the worker's runner.

Prints ms per run and writes JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import distribution, log, print_table, write_results  # noqa: E402

HISTORY = (
    ROOT / "tests" / "workflows" / "histories" / "idle_lifecycle_without_heartbeat_timeouts.json"
)
VARIANTS = {
    "full sandbox, no bytecode cache": "fresh",
    "full sandbox, bytecode cache": "cached",
    "shared workflows modules (worker)": "shared",
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200, help="replays per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per variant")
    parser.add_argument("--child", choices=sorted(set(VARIANTS.values())), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.runs < 1 or args.rounds < 1:
        parser.error("--runs and --rounds must be at least 1")
    return args


async def replay(mode: str, runs: int) -> float:
    """Seconds per replayed run, in this process."""
    from temporalio.client import WorkflowHistory
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.worker import Replayer, WorkflowRunner
    from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

    from worker import WORKFLOW_RUNNER
    from workflows.server import ServerWorkflow

    runner: WorkflowRunner = WORKFLOW_RUNNER if mode == "shared" else SandboxedWorkflowRunner()
    text = HISTORY.read_text()

    async def histories() -> AsyncIterator[WorkflowHistory]:
        for i in range(runs):
            yield WorkflowHistory.from_json(f"run-{i}", text)

    replayer = Replayer(
        workflows=[ServerWorkflow], data_converter=pydantic_data_converter, workflow_runner=runner
    )
    started = time.perf_counter()
    async with replayer.workflow_replay_iterator(histories()) as results:
        async for result in results:
            if result.replay_failure is not None:
                raise SystemExit(f"replay failed: {result.replay_failure}")
    return (time.perf_counter() - started) / runs


def child(mode: str, runs: int) -> int:
    print(json.dumps({"seconds_per_run": asyncio.run(replay(mode, runs))}))
    return 0


def measure(mode: str, runs: int, cache_dir: Path) -> float:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONPYCACHEPREFIX", None)
    if mode == "cached":
        env["PYTHONPYCACHEPREFIX"] = str(cache_dir)
    else:
        # Any cache beside the sources would be read: point the lookup elsewhere.
        env["PYTHONPYCACHEPREFIX"] = str(cache_dir / "empty")
    argv = [sys.executable, str(Path(__file__).resolve()), "--child", mode, "--runs", str(runs)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{mode} measurement failed:\n{done.stderr[-2000:]}")
    return float(json.loads(done.stdout.strip().splitlines()[-1])["seconds_per_run"])


def precompile(cache_dir: Path) -> None:
    """Bytecode for the workflow modules in a private cache, as `compileall` would
    leave it beside them."""
    code = (
        "import compileall, sys; "
        f"sys.exit(0 if compileall.compile_dir({str(ROOT / 'workflows')!r}, quiet=1) else 1)"
    )
    env = dict(os.environ, PYTHONPYCACHEPREFIX=str(cache_dir))
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)


def main() -> int:
    args = parse_args()
    if args.child:
        return child(args.child, args.runs)
    samples: dict[str, list[float]] = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="bench-workflow-runs-") as tmp:
        cache_dir = Path(tmp)
        precompile(cache_dir)
        for round_no in range(1, args.rounds + 1):
            for name, mode in VARIANTS.items():
                seconds = measure(mode, args.runs, cache_dir)
                samples[name].append(seconds)
                log(f"round {round_no}: {name}: {seconds * 1000:.1f} ms per run")
    shared = min(samples["shared workflows modules (worker)"])
    rows = [
        (
            name,
            " / ".join(f"{s * 1000:.1f}" for s in values),
            f"{min(values) * 1000:.1f}",
            f"{min(values) / shared:.2f}",
        )
        for name, values in samples.items()
    ]
    print_table(
        ("runner", "ms per run, each round", "best ms", "best / shared"),
        rows,
        title=f"\n{args.runs} replays of a recorded server lifecycle per measurement",
    )
    results: dict[str, Any] = {
        name: {"seconds_per_run": values, "distribution": distribution(values)}
        for name, values in samples.items()
    }
    path = write_results("workflow_runs", "default", {"args": vars(args), "results": results})
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
