"""Turning command-line input into requests, refusing bad input before anything starts."""

from __future__ import annotations

import stat
from pathlib import Path

from client.errors import InvalidRequest
from core.models import MAX_CLOUD_INIT_BYTES, validate_server_name

__all__ = ["batch_names", "read_cloud_init"]


def read_cloud_init(path: Path) -> str:
    """The file's text; raises InvalidRequest when it is unreadable, empty, not UTF-8 or
    larger than Vultr accepts."""
    try:
        info = path.stat()
        size = info.st_size
        if stat.S_ISDIR(info.st_mode):
            raise InvalidRequest(f"cloud-init file {path} is a directory; give a script file")
        # A FIFO or device would block the read (or never end): only plain files.
        if not stat.S_ISREG(info.st_mode):
            raise InvalidRequest(
                f"cloud-init file {path} is not a regular file (a pipe or device); "
                "give a script file"
            )
        # Checked before reading, so a huge file is refused without loading it.
        if size > MAX_CLOUD_INIT_BYTES:
            raise InvalidRequest(
                f"cloud-init file {path} is {size} bytes; Vultr accepts at most "
                f"{MAX_CLOUD_INIT_BYTES} bytes (64 KiB)"
            )
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidRequest(f"cannot read cloud-init file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InvalidRequest(f"cloud-init file {path} is not UTF-8 text") from None
    if not text.strip():
        raise InvalidRequest(
            f"cloud-init file {path} is empty; omit --cloud-init or give a non-empty script"
        )
    return text


def batch_names(name: str, count: int | None) -> list[str]:
    """`[name]`, or NAME-1..NAME-N with a count; every name checked before any start."""
    names = [name] if count is None else [f"{name}-{i}" for i in range(1, count + 1)]
    for each in names:
        try:
            validate_server_name(each)
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from None
    return names
