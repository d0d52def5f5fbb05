"""Each demo starts from empty data: nothing of the previous run is loaded again."""

from __future__ import annotations

from pathlib import Path

from cli.demo import _wipe
from devstack.stack import EMULATOR_STATE_FILE


def test_a_new_demo_forgets_the_previous_emulator_instances_history_and_logs(
    tmp_path: Path,
) -> None:
    (tmp_path / EMULATOR_STATE_FILE).write_text('{"format": 1}')
    (tmp_path / "temporal.sqlite").write_text("")
    (tmp_path / "mongo").mkdir()
    (tmp_path / "logs").mkdir()
    (tmp_path / "demo.lock").write_text("")

    _wipe(tmp_path)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.lock"]
