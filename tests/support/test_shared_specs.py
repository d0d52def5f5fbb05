"""Tests find external specs relative to the repository (or SHARED_SPECS_DIR), never at a
path of one machine; an absent spec skips the test with the reason, or fails it under CI."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from _pytest.outcomes import Failed, Skipped

from tests.support.shared_specs import REPO, SHARED_SPECS_ENV, shared_spec, shared_specs_dir


def test_specs_are_looked_up_beside_the_repository_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(SHARED_SPECS_ENV, raising=False)
    assert shared_specs_dir() == REPO.parent / "shared"


def test_the_variable_points_at_another_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "hetzner").mkdir()
    (tmp_path / "hetzner" / "openapi.json").write_text("{}")
    monkeypatch.setenv(SHARED_SPECS_ENV, str(tmp_path))
    assert shared_spec("hetzner/openapi.json") == tmp_path / "hetzner" / "openapi.json"


def test_an_absent_spec_skips_with_where_it_was_looked_for(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(SHARED_SPECS_ENV, str(tmp_path))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(Skipped) as skipped:
        shared_spec("digitalocean/openapi.yaml")
    assert str(tmp_path / "digitalocean" / "openapi.yaml") in str(skipped.value)
    assert SHARED_SPECS_ENV in str(skipped.value)


def test_an_absent_spec_fails_under_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(SHARED_SPECS_ENV, str(tmp_path))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(Failed, match="vultr/openapi.json not found"):
        shared_spec("vultr/openapi.json")


# A string literal starting with a home or workspace folder of some machine.
_MACHINE_PATH = re.compile(r"""["'](/work|/home|/Users|/root)/""")


def test_no_source_file_names_a_path_of_one_machine() -> None:
    offenders = []
    for folder, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"]
        for name in files:
            if name.endswith(".py"):
                path = Path(folder) / name
                for number, line in enumerate(path.read_text().splitlines(), 1):
                    if _MACHINE_PATH.search(line):
                        offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert offenders == []
