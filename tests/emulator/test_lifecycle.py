"""An instance's state over time on the emulator clock, and halt/start/reboot."""

from __future__ import annotations

from emulator.core.clock import format_time
from tests.emulator.support import InProcess, MakeEmulator


def _state(instance: dict[str, object]) -> tuple[object, object, object]:
    return instance["status"], instance["power_status"], instance["server_status"]


async def test_a_new_instance_is_pending_without_an_address(emu: InProcess) -> None:
    created = await emu.create()
    assert _state(created) == ("pending", "running", "none")
    assert created["main_ip"] == "0.0.0.0"


async def test_after_forty_percent_of_boot_it_is_locked_and_stopped_with_an_address(
    emu: InProcess,
) -> None:
    created = await emu.create()
    emu.clock.advance(3.9)
    assert _state(await emu.instance(created["id"])) == ("pending", "running", "none")
    emu.clock.advance(0.1)
    seen = await emu.instance(created["id"])
    assert _state(seen) == ("active", "stopped", "locked")
    assert seen["main_ip"] not in ("", "0.0.0.0")


async def test_after_boot_seconds_it_is_active_running_ok(emu: InProcess) -> None:
    created = await emu.create()
    emu.clock.advance(9.9)
    assert _state(await emu.instance(created["id"])) == ("active", "stopped", "locked")
    emu.clock.advance(0.1)
    assert _state(await emu.instance(created["id"])) == ("active", "running", "ok")


async def test_zero_boot_seconds_means_ready_at_once(make_emulator: MakeEmulator) -> None:
    emu = make_emulator(boot_seconds=0)
    assert _state(await emu.create()) == ("active", "running", "ok")


async def test_date_created_is_the_creation_time_in_vultr_format(emu: InProcess) -> None:
    emu.clock.advance(0.75)
    created = await emu.create()
    assert created["date_created"] == format_time(emu.clock.now.replace(microsecond=0))
    assert created["date_created"] == "2024-01-10T12:00:00+00:00"


async def test_halt_stops_the_server_and_start_runs_it_again(emu: InProcess) -> None:
    created = await emu.create()
    emu.clock.advance(10)
    halted = await emu.client.post(f"/v2/instances/{created['id']}/halt")
    assert halted.status_code == 204
    assert _state(await emu.instance(created["id"])) == ("active", "stopped", "ok")
    started = await emu.client.post(f"/v2/instances/{created['id']}/start")
    assert started.status_code == 204
    assert _state(await emu.instance(created["id"])) == ("active", "running", "ok")


async def test_reboot_leaves_a_halted_server_running(emu: InProcess) -> None:
    created = await emu.create()
    emu.clock.advance(10)
    await emu.client.post(f"/v2/instances/{created['id']}/halt")
    rebooted = await emu.client.post(f"/v2/instances/{created['id']}/reboot")
    assert rebooted.status_code == 204
    assert (await emu.instance(created["id"]))["power_status"] == "running"


async def test_power_actions_on_an_unknown_instance_are_404(emu: InProcess) -> None:
    for action in ("halt", "start", "reboot"):
        response = await emu.client.post(f"/v2/instances/no-such-id/{action}")
        assert response.status_code == 404
        assert response.json() == {"error": "instance not found", "status": 404}


async def test_a_deleted_instance_is_gone(emu: InProcess) -> None:
    created = await emu.create()
    deleted = await emu.client.delete(f"/v2/instances/{created['id']}")
    assert deleted.status_code == 204
    assert (await emu.client.get(f"/v2/instances/{created['id']}")).status_code == 404
    assert (await emu.client.delete(f"/v2/instances/{created['id']}")).status_code == 404
    listed = await emu.client.get("/v2/instances")
    assert listed.json()["meta"]["total"] == 0


async def test_get_answers_404_during_the_window_after_create(
    make_emulator: MakeEmulator,
) -> None:
    emu = make_emulator(get_404_seconds=3)
    created = await emu.create()
    emu.clock.advance(2.9)
    assert (await emu.client.get(f"/v2/instances/{created['id']}")).status_code == 404
    emu.clock.advance(0.1)
    assert (await emu.client.get(f"/v2/instances/{created['id']}")).status_code == 200


async def test_the_create_response_alone_carries_the_default_password(emu: InProcess) -> None:
    created = await emu.create()
    assert len(created["default_password"]) >= 12
    assert "default_password" not in await emu.instance(created["id"])
    listed = (await emu.client.get("/v2/instances")).json()["instances"]
    assert "default_password" not in listed[0]


async def test_ipv6_is_reported_once_the_server_has_left_pending(emu: InProcess) -> None:
    created = await emu.create(enable_ipv6=True)
    assert created["v6_main_ip"] == "" and created["v6_network_size"] == 0
    emu.clock.advance(10)
    seen = await emu.instance(created["id"])
    assert seen["v6_network"].endswith("::") and seen["v6_network_size"] == 64
    assert seen["v6_networks"][0]["main_ip"] == seen["v6_main_ip"]
    assert "ipv6" in seen["features"]
