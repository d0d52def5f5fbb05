"""Resolving a server's policy on the worker: the billing model is the worker's (its
settings match the provider it bills against), not the shell that started the server."""

from __future__ import annotations

from pydantic import ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.models import PolicyOverrides, ServerPolicy
from core.settings import Settings
from core.validation import validation_problems

__all__ = ["PolicyActivities"]


class PolicyActivities:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @activity.defn(name="resolve_policy")
    async def resolve_policy(self, overrides: PolicyOverrides) -> ServerPolicy:
        """This worker's defaults with the user's explicit overrides on top."""
        try:
            return ServerPolicy.from_settings(self._settings, overrides)
        except ValidationError as exc:
            problems = "; ".join(validation_problems(exc))
            raise ApplicationError(
                f"invalid server policy: {problems}", type="InvalidPolicy", non_retryable=True
            ) from None
