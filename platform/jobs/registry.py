"""Every job Tessera can run, by name, for arq and the in-process queue alike.

A job is a plain ``async def job(ctx, *args, **kwargs)``. ``ctx`` is a dict
with at least ``job_id``, ``job_try`` (1 on the first run), ``enqueue_time``
and ``runtime`` (the installed :class:`tessera.runtime.Runtime`), whichever
queue runs it. Arguments travel pickled, so keep them to ids and plain values.

A new built-in job is one line in :data:`BUILTIN_JOBS`; tests and embedders
add their own with :func:`register`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from importlib import import_module
from typing import Any, cast

from arq.typing import WorkerCoroutine
from arq.worker import Function, Retry, func

from tessera.jobs.transient import is_transient

# ``async def job(ctx: dict[str, Any], *args, **kwargs)``
JobFunction = Callable[..., Coroutine[Any, Any, Any]]

# arq's own defaults, named so the in-process queue applies the same ones.
DEFAULT_MAX_TRIES = 5
DEFAULT_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class JobDefinition:
    """A job function under its registered name, with its retry and time limits."""

    name: str
    function: JobFunction
    max_tries: int | None = None
    """Runs allowed, counting the first; ``None`` takes the queue's default (5)."""
    timeout_s: float | None = None
    """Longest one run may take; ``None`` takes the queue's default (300 s)."""

    def as_arq(self) -> Function:
        return func(
            cast(WorkerCoroutine, retrying_transient(self.function)),
            name=self.name,
            max_tries=self.max_tries,
            timeout=self.timeout_s,
        )


def retrying_transient(function: JobFunction) -> JobFunction:
    """``function``, with a deadlock, serialization failure or lock timeout
    turned into arq's ``Retry`` (arq otherwise fails a job on any exception,
    dropping work a second try would do). Waits 1, 2, 4... s, at most 60."""

    @functools.wraps(function)
    async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return await function(ctx, *args, **kwargs)
        except Exception as exc:
            if is_transient(exc):
                raise Retry(defer=min(60.0, 2.0 ** (ctx.get("job_try", 1) - 1))) from exc
            raise

    return run


class UnknownJob(LookupError):
    """Enqueued a name no job is registered under (a programming error)."""


# name -> "module:function". Imported on first use, so importing the registry
# stays cheap and domain modules may import it without a cycle.
BUILTIN_JOBS: dict[str, str] = {
    "ping": "tessera.jobs.builtin:ping",
    "audit_prune": "tessera.jobs.builtin:audit_prune",
    "segments_refresh": "tessera.segments.jobs:segments_refresh",
    "segments_refresh_brand": "tessera.segments.jobs:segments_refresh_brand",
    "segments_member_facts": "tessera.segments.jobs:segments_member_facts",
    "segments_tag_rules": "tessera.segments.jobs:segments_tag_rules",
    "segments_nightly": "tessera.segments.jobs:segments_nightly",
    "expire_points": "tessera.assets.jobs:expire_points",
    "release_pending_points": "tessera.assets.jobs:release_pending_points",
    "warn_points_expiring": "tessera.assets.jobs:warn_points_expiring",
    "tier_review": "tessera.rewards.jobs:tier_review",
    "rollup_tick": "tessera.reports.rollup:rollup_tick",
    "campaign_results_tick": "tessera.campaigns.stored:campaign_results_tick",
    "stage_flows_tick": "tessera.reports.flows:stage_flows_tick",
    "birthday_bonus": "tessera.rewards.jobs:birthday_bonus",
    "reward_activity": "tessera.rewards.triggers:reward_activity_job",
    "expire_holds": "tessera.checkout.jobs:expire_holds",
    "outbox_run": "tessera.outbox.relay:outbox_run",
    "outbox_prune": "tessera.outbox.relay:outbox_prune",
    "webhooks_fanout": "tessera.webhooks.triggers:webhooks_fanout",
    "webhooks_send": "tessera.webhooks.delivery:webhooks_send",
    "privacy_export": "tessera.privacy.exports:export_job",
    "privacy_retention": "tessera.privacy.retention:retention_brand",
    "persons_link": "tessera.persons.linking:persons_link",
    "identity_keys_reseal": "tessera.members.jobs:identity_keys_reseal",
    "members_merge_tier": "tessera.members.merge:merge_tier",
    "slots_build": "tessera.slots.jobs:slots_build",
    "channels_send": "tessera.channels.delivery:channels_send",
    "channels_send_priority": "tessera.channels.delivery:channels_send",
    "channels_trigger": "tessera.channels.triggers:channels_trigger",
    "campaigns_start": "tessera.campaigns.sending:campaigns_start",
    "campaigns_batch": "tessera.campaigns.sending:campaigns_batch",
}

_registered: dict[str, JobDefinition] | None = None


def _jobs() -> dict[str, JobDefinition]:
    global _registered
    if _registered is None:
        _registered = {}
        for name, target in BUILTIN_JOBS.items():
            module, _, attribute = target.partition(":")
            _registered[name] = JobDefinition(name, getattr(import_module(module), attribute))
    return _registered


def register(
    function: JobFunction,
    name: str | None = None,
    *,
    max_tries: int | None = None,
    timeout_s: float | None = None,
) -> JobDefinition:
    """Add a job under ``name`` (default: the function's name). A worker picks up
    jobs registered before it is created."""
    definition = JobDefinition(name or function.__name__, function, max_tries, timeout_s)
    if max_tries is not None and max_tries < 1:
        raise ValueError(f"job {definition.name!r}: max_tries must be at least 1")
    # arq.func checks what arq needs (a coroutine function); the inline queue needs the same.
    func(cast(WorkerCoroutine, function), name=definition.name)
    jobs = _jobs()
    if definition.name in jobs and jobs[definition.name].function is not function:
        raise ValueError(f"a different job is already registered as {definition.name!r}")
    jobs[definition.name] = definition
    return definition


def unregister(name: str) -> None:
    _jobs().pop(name, None)


def get(name: str) -> JobDefinition:
    try:
        return _jobs()[name]
    except KeyError:
        raise UnknownJob(f"no job is registered as {name!r}") from None


def definitions() -> list[JobDefinition]:
    return list(_jobs().values())


def arq_functions() -> list[Function]:
    """The registered jobs as arq worker functions."""
    return [definition.as_arq() for definition in definitions()]
