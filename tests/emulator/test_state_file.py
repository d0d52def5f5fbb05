"""`python -m emulator --state-file F`: a restarted emulator keeps its account."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from devstack.components import PROJECT_ROOT
from tests.support.emulator import TEST_API_KEY, RunningEmulator, start_emulator

SERVER_BODY = {"region": "ewr", "plan": "vc2-1c-1gb", "os_id": 2284}
AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}


def _start(tmp_path: Path, state: Path) -> RunningEmulator:
    return start_emulator(
        tmp_path, rate_limit=0, boot_seconds=0, extra_args=["--state-file", str(state)]
    )


def _create(api: httpx.Client, label: str) -> dict:  # type: ignore[type-arg]
    response = api.post("/instances", json={**SERVER_BODY, "label": label, "tags": ["t"]})
    assert response.status_code == 202, response.text
    instance: dict = response.json()["instance"]  # type: ignore[type-arg]
    return instance


def test_instances_and_charges_survive_a_crash_and_new_ids_do_not_repeat(tmp_path: Path) -> None:
    state = tmp_path / "emulator-state.json"
    first = _start(tmp_path, state)
    try:
        with httpx.Client(base_url=first.api_url, headers=AUTH, timeout=10) as api:
            kept = _create(api, "kept")
            gone = _create(api, "gone")
            assert api.post(f"/instances/{kept['id']}/halt").status_code == 204
            assert api.delete(f"/instances/{gone['id']}").status_code == 204
            ledger_before = first.admin("GET", "/ledger").json()["ledger"]
    finally:
        first.process.kill()  # no shutdown save: every answered change is already on disk

    second = _start(tmp_path, state)
    try:
        with httpx.Client(base_url=second.api_url, headers=AUTH, timeout=10) as api:
            listed = api.get("/instances", params={"tag": "t"}).json()["instances"]
            assert [i["id"] for i in listed] == [kept["id"]]
            assert listed[0]["power_status"] == "stopped"
            assert listed[0]["main_ip"] == kept["main_ip"]
            assert api.get(f"/instances/{gone['id']}").status_code == 404
            ledger = second.admin("GET", "/ledger").json()["ledger"]
            assert [(r["instance_id"], r["deleted_at"] is None) for r in ledger] == [
                (kept["id"], True),
                (gone["id"], False),
            ]
            assert ledger == ledger_before
            fresh = _create(api, "fresh")
            assert fresh["id"] not in {kept["id"], gone["id"]}
            assert fresh["main_ip"] not in {kept["main_ip"], gone["main_ip"]}
    finally:
        second.process.stop()


def test_an_unreadable_state_file_stops_the_start_with_one_line(tmp_path: Path) -> None:
    state = tmp_path / "emulator-state.json"
    state.write_text("{not json")

    result = subprocess.run(
        [sys.executable, "-m", "emulator", "--port", "0", "--state-file", str(state)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=20,
    )

    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: cannot load the emulator state from {state}: ")
    assert "Traceback" not in result.stderr
