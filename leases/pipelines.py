"""The filters and update pipelines behind each lease operation, as pure functions.

Every decision is taken by the MongoDB server inside one atomic update, with the
server's clock. Forms are chosen to behave the same on mongod and on SecantusDB:
expiry is stored as epoch milliseconds and compared as longs, because SecantusDB
compares a stored Date with `$$NOW` wrongly.

Needs MongoDB 5.0 or later (`$$NOW`, `$toLong` of a Date).

A resource is a semaphore of N slots, one document per slot, so no operation reads
or writes more than one slot and the cost does not grow with the holders:

    _id         {res, i}        slot i of resource res (0 <= i)
    owner       holder's name, or the slot number i while the slot is free; unique per res
    token       the holder's fencing token; fence the largest token the slot issued
    expires_ms  server time (epoch ms) the holding ends; 0 once released
    retired     true for slots at or above the stored limit: kept and renewed by a live
                holder, never granted again once free
    last_grant  {op, fresh, took_over} of the latest grant
    gc_after    Date for the TTL index, a grace period after the expiry

Tokens are `now_ms * SLOT_SPACE + i`, or the slot's fence plus SLOT_SPACE when that is
larger (a slot granted twice in one millisecond): unique per resource (the remainder
is the slot), growing per slot, and across slots ordered by the server's millisecond
clock. The resource's own document (`_id` = res) holds the limit (see `store`).
"""

from __future__ import annotations

from typing import Any

from bson import Int64, ObjectId

__all__ = [
    "SLOT_SPACE",
    "expired_expr",
    "fenced_write_pipeline",
    "free_filter",
    "grant_pipeline",
    "live_expr",
    "live_filter",
    "live_stages",
    "own_filter",
    "pick_filter",
    "release_pipeline",
    "renew_pipeline",
    "slot_id",
]

Expr = dict[str, Any]

# Room for this many slots per resource in a token; 2**20 * epoch ms fits a long
# until the 23rd century.
SLOT_SPACE = 1 << 20


def slot_id(resource: str, i: int) -> dict[str, Any]:
    return {"res": resource, "i": i}


def _now_ms() -> Expr:
    """The server's clock in epoch ms; a fresh dict each time, as every expression here."""
    return {"$toLong": "$$NOW"}


def _text(value: str) -> Expr:
    """A caller's string as data: unwrapped, "$x" would be read as a field path."""
    return {"$literal": value}


def live_expr() -> Expr:
    return {"$gt": ["$expires_ms", _now_ms()]}


def expired_expr() -> Expr:
    return {"$lte": ["$expires_ms", _now_ms()]}


def live_filter(resource: str, owner: str | None = None, token: int | None = None) -> Expr:
    """Slots of `resource` held right now by the server's clock (by `owner`, `token`)."""
    query: Expr = {"res": resource, "$expr": live_expr()}
    if owner is not None:
        query["owner"] = owner
    if token is not None:
        query["token"] = Int64(token)
    return query


def live_stages(resource: str, owner: str | None = None, token: int | None = None) -> list[Expr]:
    """`live_filter` as aggregation stages for reads: the plain match first, so a server
    whose planner gives up on indexes at any `$expr` still reads only these slots."""
    query: Expr = {"res": resource}
    if owner is not None:
        query["owner"] = owner
    if token is not None:
        query["token"] = Int64(token)
    return [{"$match": query}, {"$match": {"$expr": live_expr()}}]


def free_filter(resource: str, among: list[int] | None = None) -> Expr:
    """A released or never used slot (numbered one of `among`, if given), by plain
    equalities and an `$in` that an index answers alone (`res_free`), so a grant
    reads neither the slots that are held nor, with `among`, all the free ones."""
    query: Expr = {"res": resource, "retired": False, "expires_ms": Int64(0)}
    if among is not None:
        query["i"] = {"$in": among}
    return query


def pick_filter(resource: str, owner: str) -> Expr:
    """The owner's own slot or any free one (released, expired or never used)."""
    return {
        "res": resource,
        "retired": {"$ne": True},
        "$expr": {
            "$or": [
                {"$eq": ["$owner", _text(owner)]},
                expired_expr(),
            ]
        },
    }


def own_filter(resource: str, owner: str) -> Expr:
    """The owner's slot, unless it is retired and no longer live (never granted again)."""
    return {
        "res": resource,
        "owner": owner,
        "$or": [{"retired": {"$ne": True}}, {"$expr": live_expr()}],
    }


def _gc_after(expires: Any, grace_ms: int) -> Expr:
    return {"$toDate": {"$add": [expires, Int64(grace_ms)]}}


def grant_pipeline(owner: str, ttl_ms: int, op: ObjectId, grace_ms: int) -> list[Expr]:
    """Give the matched slot to `owner`: its own live holding keeps its token and is
    extended; anything else (free, expired, the owner's expired one) gets a new token.
    `last_grant.op == op` in the result tells this call was granted."""
    until = {"$add": [_now_ms(), Int64(ttl_ms)]}
    keep = "$_keep"
    fresh_token = {
        "$max": [
            {"$add": ["$fence", Int64(SLOT_SPACE)]},
            {"$add": [{"$multiply": [_now_ms(), Int64(SLOT_SPACE)]}, {"$toLong": "$i"}]},
        ]
    }
    return [
        {"$set": {"_keep": {"$and": [{"$eq": ["$owner", _text(owner)]}, live_expr()]}}},
        {
            "$set": {
                "owner": _text(owner),
                "token": {"$cond": [keep, "$token", fresh_token]},
                "expires_ms": {"$cond": [keep, {"$max": ["$expires_ms", until]}, until]},
                "last_grant": {
                    "op": op,
                    "fresh": {"$not": [keep]},
                    "took_over": {
                        "$and": [
                            {"$not": [keep]},
                            {"$gt": ["$expires_ms", 0]},
                            {"$ne": ["$owner", _text(owner)]},
                        ]
                    },
                },
            }
        },
        {
            "$set": {
                "fence": {"$max": ["$fence", "$token"]},
                "gc_after": _gc_after("$expires_ms", grace_ms),
            }
        },
        {"$unset": "_keep"},
    ]


def renew_pipeline(ttl_ms: int, grace_ms: int) -> list[Expr]:
    until = {"$add": [_now_ms(), Int64(ttl_ms)]}
    return [{"$set": {"expires_ms": until, "gc_after": _gc_after(until, grace_ms)}}]


def release_pipeline() -> list[Expr]:
    """Free the slot: expired at once, and its owner the slot number again, so the
    unique (res, owner) index lets the former holder take any other slot."""
    return [{"$set": {"expires_ms": Int64(0), "owner": "$i"}}]


def fenced_write_pipeline(fields: dict[str, Any], fence: int, fence_field: str) -> list[Expr]:
    """Merge `fields` into the document unless it already carries a larger fence."""
    accept = {"$lte": [{"$ifNull": [f"${fence_field}", None]}, Int64(fence)]}
    merged = {"$mergeObjects": ["$$ROOT", {"$literal": fields}, {fence_field: Int64(fence)}]}
    return [{"$replaceWith": {"$cond": [accept, merged, "$$ROOT"]}}]
