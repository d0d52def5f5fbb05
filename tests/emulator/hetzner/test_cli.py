"""`python -m emulator` flags: --provider picks the face; a bad one is a usage error."""

from __future__ import annotations

import pytest

from emulator import EmulatorConfig, HetznerConfig
from emulator.__main__ import parse_args
from emulator.faces import FACES


def test_the_default_face_is_vultr_and_hetzner_is_chosen_by_provider() -> None:
    assert type(parse_args(["--port", "1"])) is EmulatorConfig
    config = parse_args(["--provider", "hetzner", "--rate-limit", "10", "--delete-seconds", "2"])
    assert isinstance(config, HetznerConfig)
    assert (config.rate_limit, config.delete_seconds) == (10, 2)


def test_an_unknown_provider_is_a_usage_error_naming_the_choices(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_args(["--provider", "nope"])
    assert exited.value.code == 2
    choices = ", ".join(repr(face) for face in sorted(FACES))
    assert f"invalid choice: 'nope' (choose from {choices})" in capsys.readouterr().err


def test_a_vultr_only_flag_is_refused_by_the_hetzner_face(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_args(["--provider", "hetzner", "--get-404-seconds", "3"])
    assert exited.value.code == 2
    assert "--get-404-seconds" in capsys.readouterr().err


@pytest.mark.parametrize("face", sorted(FACES))
def test_ignore_list_filters_starts_every_face_ignoring_its_list_filters(face: str) -> None:
    assert parse_args(["--provider", face]).faults.ignore_list_filters is False
    faults = '{"latency_ms": 5}'
    config = parse_args(["--provider", face, "--faults", faults, "--ignore-list-filters"])
    assert (config.faults.ignore_list_filters, config.faults.latency_ms) == (True, 5)
