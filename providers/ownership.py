"""What a listing holds, split by ownership: our instances, and a bounded account of the
others, which are never touched. The same split for every provider, decided on each
instance's own tags (`core.naming.owner_of`), whatever filter the listing used."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from core.naming import owner_of
from providers.base import Instance, Owned

__all__ = ["NOT_OURS_IDS_SHOWN", "split_owned"]

# The reconciliation record names this many of the others; the count covers them all.
NOT_OURS_IDS_SHOWN = 10


def split_owned(
    listed: Iterable[Instance], oldest_first: Callable[[list[Instance]], list[Instance]]
) -> Owned:
    """Ours oldest first; the others counted, the first few named. An instance a listing
    repeats (pages shifting under a concurrent create) counts once: listed twice, one of
    ours would otherwise look like its own duplicate."""
    unique = list({inst.id: inst for inst in listed}.values())
    ours = [inst for inst in unique if owner_of(inst.tags) is not None]
    others = [inst.id for inst in unique if owner_of(inst.tags) is None]
    return Owned(
        instances=oldest_first(ours),
        not_ours=len(others),
        not_ours_ids=others[:NOT_OURS_IDS_SHOWN],
    )
