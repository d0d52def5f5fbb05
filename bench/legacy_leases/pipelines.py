"""The update pipelines and filters behind each lease operation, as pure functions.

Every decision is taken by the MongoDB server inside one atomic update, with the
server's clock. Forms are chosen to behave the same on mongod and on SecantusDB:
expiry is stored as epoch milliseconds and compared as longs, because SecantusDB
compares a stored Date with `$$NOW` wrongly; array fields are read with `$map`/`$filter`,
because SecantusDB evaluates a path through an array (`"$holders.owner"`) as missing.

Needs MongoDB 5.0 or later (`$ifNull` with several arguments, `$first`, `$$NOW`).

Document shape (one per resource; `_id` is the resource name):

    holders     [{owner, token, expires_ms}]  live holders, plus expired ones not yet pruned
    fence       last token issued; only grows
    last_grant  {op, fresh, took_over} of the latest grant (took_over: expired holders pruned)
    gc_after    Date for the TTL index, >= every expiry and the fence, plus a grace period
"""

from __future__ import annotations

from typing import Any

from bson import Int64, ObjectId

__all__ = [
    "acquire_pipeline",
    "fenced_write_pipeline",
    "live_holders_expr",
    "release_all_pipeline",
    "release_filter",
    "release_pipeline",
    "renew_filter",
    "renew_pipeline",
]

Expr = dict[str, Any]

NOW_MS: Expr = {"$toLong": "$$NOW"}


def _live(holders: Any, now: Any) -> Expr:
    return {"$filter": {"input": holders, "as": "h", "cond": {"$gt": ["$$h.expires_ms", now]}}}


def live_holders_expr() -> Expr:
    """The holders of the current document whose expiry is after the server's now."""
    return _live({"$ifNull": ["$holders", []]}, NOW_MS)


def _text(value: str) -> Expr:
    """A caller's string as data: unwrapped, "$x" would be read as a field path."""
    return {"$literal": value}


def _is(owner: str, token: int | None = None) -> Expr:
    checks: list[Expr] = [{"$eq": ["$$h.owner", _text(owner)]}]
    if token is not None:
        checks.append({"$eq": ["$$h.token", Int64(token)]})
    return {"$and": checks}


def _gc_after(floor_ms: Any, grace_ms: int) -> Expr:
    # The TTL monitor may delete the document (fence included) only once the server's
    # clock is past every expiry and past the fence plus grace; a recreated document
    # seeds its fence from the clock (see acquire_pipeline), so tokens still only grow.
    return {"$toDate": {"$max": [{"$toLong": "$gc_after"}, {"$add": [floor_ms, Int64(grace_ms)]}]}}


def acquire_pipeline(
    owner: str, ttl_ms: int, limit: int, op: ObjectId, grace_ms: int
) -> list[Expr]:
    """Grant `owner` a slot if it already holds one (extending it) or fewer than `limit`
    holders are live; prune expired holders in the same write. A refusal leaves the
    document untouched. `last_grant.op == op` in the result tells this call was granted.
    """
    # Kept small on purpose: the server validates and walks every node on each call.
    grant = {
        "_id": "$_id",
        "fence": {"$max": ["$fence", "$$token"]},
        "holders": {
            "$concatArrays": [
                {
                    "$filter": {
                        "input": "$$live",
                        "as": "h",
                        "cond": {"$ne": ["$$h.owner", _text(owner)]},
                    }
                },
                [{"owner": _text(owner), "token": "$$token", "expires_ms": "$$until"}],
            ]
        },
        "last_grant": {
            "op": op,
            "fresh": {"$not": ["$$held"]},
            "took_over": {"$gt": [{"$size": "$$all"}, {"$size": "$$live"}]},
        },
        "gc_after": _gc_after({"$max": ["$$until", "$$token"]}, grace_ms),
    }
    decide = {
        "$let": {
            "vars": {
                # A new document seeds its fence from the server clock, so a document
                # recreated after garbage collection still issues larger tokens.
                "token": {"$ifNull": ["$$held.token", {"$add": ["$fence", 1]}, "$$now"]},
                "until": {"$max": ["$$held.expires_ms", {"$add": ["$$now", Int64(ttl_ms)]}]},
            },
            "in": {
                "$cond": [
                    {"$or": ["$$held", {"$lt": [{"$size": "$$live"}, limit]}]},
                    grant,
                    "$$ROOT",
                ]
            },
        }
    }
    return [
        {
            "$replaceWith": {
                "$let": {
                    "vars": {"now": NOW_MS, "all": {"$ifNull": ["$holders", []]}},
                    "in": {
                        "$let": {
                            "vars": {"live": _live("$$all", "$$now")},
                            "in": {
                                "$let": {
                                    "vars": {
                                        "held": {
                                            "$first": {
                                                "$filter": {
                                                    "input": "$$live",
                                                    "as": "h",
                                                    "cond": _is(owner),
                                                }
                                            }
                                        }
                                    },
                                    "in": decide,
                                }
                            },
                        }
                    },
                }
            }
        }
    ]


def renew_filter(resource: str, owner: str, token: int) -> Expr:
    return {"_id": resource, "holders": {"$elemMatch": {"owner": owner, "token": Int64(token)}}}


def renew_pipeline(owner: str, token: int, ttl_ms: int, grace_ms: int) -> list[Expr]:
    """Extend the holding `(owner, token)` if it is still live; an expired one is pruned
    like every other expired holder, never revived."""
    expires = {"$add": [NOW_MS, Int64(ttl_ms)]}
    return [
        {
            "$set": {
                "holders": {
                    "$map": {
                        "input": live_holders_expr(),
                        "as": "h",
                        "in": {
                            "$cond": [
                                _is(owner, token),
                                {"$mergeObjects": ["$$h", {"expires_ms": expires}]},
                                "$$h",
                            ]
                        },
                    }
                },
                "gc_after": _gc_after({"$max": [expires, "$fence"]}, grace_ms),
            }
        }
    ]


def release_filter(resource: str, owner: str, token: int) -> Expr:
    """Matches only while the holding `(owner, token)` is live by the server's clock."""
    mine_live = {
        "$filter": {
            "input": {"$ifNull": ["$holders", []]},
            "as": "h",
            "cond": {"$and": [_is(owner, token), {"$gt": ["$$h.expires_ms", NOW_MS]}]},
        }
    }
    return {"_id": resource, "$expr": {"$gt": [{"$size": mine_live}, 0]}}


def release_pipeline(owner: str, token: int) -> list[Expr]:
    keep = {"$and": [{"$gt": ["$$h.expires_ms", NOW_MS]}, {"$not": [_is(owner, token)]}]}
    return [{"$set": {"holders": {"$filter": {"input": "$holders", "as": "h", "cond": keep}}}}]


def release_all_pipeline(owner: str) -> list[Expr]:
    keep = {"$and": [{"$gt": ["$$h.expires_ms", NOW_MS]}, {"$ne": ["$$h.owner", _text(owner)]}]}
    return [{"$set": {"holders": {"$filter": {"input": "$holders", "as": "h", "cond": keep}}}}]


def fenced_write_pipeline(fields: dict[str, Any], fence: int, fence_field: str) -> list[Expr]:
    """Merge `fields` into the document unless it already carries a larger fence."""
    accept = {"$lte": [{"$ifNull": [f"${fence_field}", None]}, Int64(fence)]}
    merged = {"$mergeObjects": ["$$ROOT", {"$literal": fields}, {fence_field: Int64(fence)}]}
    return [{"$replaceWith": {"$cond": [accept, merged, "$$ROOT"]}}]
