"""The job registry: one table of named job functions for arq and in-process."""

from __future__ import annotations

import pytest

from tessera.jobs import registry
from tessera.jobs.builtin import audit_prune, ping


def test_builtin_jobs_are_registered_under_their_names():
    assert registry.get("ping").function is ping
    assert registry.get("audit_prune").function is audit_prune
    names = {function.name for function in registry.arq_functions()}
    assert {"ping", "audit_prune"} <= names


def test_arq_functions_carry_each_jobs_limits(register_job):
    async def careful(ctx):
        return None

    register_job(careful, name="careful_job", max_tries=2, timeout_s=7)
    [function] = [f for f in registry.arq_functions() if f.name == "careful_job"]
    # arq runs it behind the wrapper that retries deadlocks (test_transient.py).
    assert (function.coroutine.__wrapped__, function.max_tries, function.timeout_s) == (
        careful,
        2,
        7,
    )


def test_a_job_must_be_a_coroutine_function():
    def not_async(ctx):
        return None

    with pytest.raises(RuntimeError, match="not a coroutine function"):
        registry.register(not_async)
    with pytest.raises(registry.UnknownJob):
        registry.get("not_async")


def test_a_name_cannot_be_taken_twice(register_job):
    async def first(ctx):
        return None

    async def second(ctx):
        return None

    register_job(first, name="shared")
    register_job(first, name="shared")  # the same function again is harmless
    with pytest.raises(ValueError, match="already registered as 'shared'"):
        registry.register(second, name="shared")
    assert registry.get("shared").function is first


def test_max_tries_must_allow_one_run():
    async def never(ctx):
        return None

    with pytest.raises(ValueError, match="max_tries must be at least 1"):
        registry.register(never, max_tries=0)
