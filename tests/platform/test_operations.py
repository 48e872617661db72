from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from tessera_processes import (
    UNREACHABLE_POSTGRES,
    Child,
    cli_env,
    served,
    start_server,
    tessera,
    wait_until_up,
)

from tessera.logging_setup import JsonFormatter

ROOT = Path(__file__).parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"


class JsonLines(logging.Handler):
    """Formats each record as it is emitted: request id and brand live in
    context variables that are gone once the request is over."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def request_log() -> Iterator[JsonLines]:
    logger = logging.getLogger("tessera.http")
    handler, old_level = JsonLines(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old_level)


async def test_healthz_answers_without_credentials(http: httpx.AsyncClient) -> None:
    response = await http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_200_when_the_database_answers(http: httpx.AsyncClient) -> None:
    response = await http.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok"}}


def test_readyz_is_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    env = cli_env(UNREACHABLE_POSTGRES, tmp_path / "var")
    with served(env, tmp_path) as base:
        health = httpx.get(f"{base}/healthz")
        ready = httpx.get(f"{base}/readyz")
    assert health.status_code == 200  # the process is up ...
    assert ready.status_code == 503  # ... but cannot serve
    body = ready.json()
    assert body["status"] == "not ready"
    assert body["checks"]["database"].startswith("unreachable")
    # `tessera serve` writes one JSON line per request, with the same request id.
    log_file = next(tmp_path.glob("serve-*.log"))
    lines = [json.loads(line) for line in log_file.open() if line.startswith("{")]
    assert not any("color_message" in line for line in lines)  # uvicorn's ANSI copy
    readyz_line = next(line for line in lines if line.get("path") == "/readyz")
    assert readyz_line["request_id"] == ready.headers["x-request-id"]
    assert readyz_line["status"] == 503


def logged(
    server: Child, count: int, matches: Callable[[dict[str, Any]], bool], timeout: float = 15
) -> list[dict[str, Any]]:
    """The server's log lines that ``matches``, read until there are ``count`` of
    them or ``timeout`` passed (a bounded loop): a process writes a request's line
    just after the response went out."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for line in server.log_lines() if matches(line)]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


async def test_each_process_of_serve_with_workers_logs_its_own_requests(tmp_path: Path) -> None:
    env = cli_env(f"sqlite://{tmp_path / 'tessera.sqlite3'}", tmp_path / "var")
    server = start_server(env, tmp_path, "--workers", "2")
    try:
        wait_until_up(server)
        logged(server, 2, lambda line: line["message"] == "Application startup complete.")
        lines: list[dict[str, Any]] = []
        # One connection at a time, each going to whichever idle child accepts it
        # first (a burst would all go to one: a child accepts everything waiting),
        # until both children have answered (bounded).
        async with httpx.AsyncClient(
            base_url=server.base, headers={"Connection": "close"}
        ) as client:
            for _ in range(10):
                sent = {(await client.get("/readyz")).headers["x-request-id"] for _ in range(10)}
                found = logged(
                    server, len(sent), lambda line, ids=sent: line.get("request_id") in ids
                )
                lines += found
                if not found or len({line["pid"] for line in lines}) >= 2:
                    break
    finally:
        server.stop()
    pids = {line["pid"] for line in lines}
    assert len(pids) == 2 and server.proc.pid not in pids, "both children log, not the parent"
    for line in lines:
        assert line["logger"] == "tessera.http"
        assert line["message"] == "GET /readyz 200"
        assert len(line["request_id"]) == 16
    everything = server.log_lines()
    assert {line["pid"] for line in everything} == pids | {server.proc.pid}
    assert all(set(line) >= {"time", "level", "logger", "pid", "message"} for line in everything)


def test_a_server_process_that_cannot_start_logs_why(tmp_path: Path) -> None:
    # The parent does not touch Redis, so only the children meet the bad URL.
    env = cli_env(
        f"sqlite://{tmp_path / 'tessera.sqlite3'}",
        tmp_path / "var",
        TESSERA_REDIS_URL="http://not-redis.example",
    )
    server = start_server(env, tmp_path, "--workers", "2")
    try:
        # The parent stops when a child cannot start, and says so in its exit code.
        assert server.proc.wait(timeout=60) == 3
    finally:
        server.stop()
    lines = server.log_lines()
    failures = [line for line in lines if line["message"] == "the API process could not start"]
    assert failures, server.log_path.read_text()
    assert server.proc.pid not in {line["pid"] for line in failures}, "a child says why it stops"
    for line in failures:
        assert line["level"] == "error"
        assert line["exception"].startswith("Traceback")
        assert "TESSERA_REDIS_URL must be a redis://" in line["exception"]
    assert any(
        line["pid"] == server.proc.pid and "failed to start" in line["message"] for line in lines
    )


def test_a_job_worker_that_cannot_start_logs_why(tmp_path: Path) -> None:
    env = cli_env(
        f"sqlite://{tmp_path / 'tessera.sqlite3'}",
        tmp_path / "var",
        TESSERA_REDIS_URL="http://not-redis.example",
    )
    result = tessera("worker", env=env, cwd=tmp_path)
    assert result.returncode == 1
    [line] = [json.loads(text) for text in result.stderr.splitlines() if text.startswith("{")]
    assert (line["level"], line["logger"]) == ("error", "tessera.server")
    assert line["message"] == "the job worker stopped on an error"
    assert "TESSERA_REDIS_URL must be a redis://" in line["exception"]
    assert isinstance(line["pid"], int)


async def test_request_log_line_has_request_id_brand_and_duration(
    http: httpx.AsyncClient, api_key: Any, brand_a: Any, request_log: JsonLines
) -> None:
    token = await api_key(brand_a, "read")
    response = await http.post(
        "/graphql",
        json={"query": "{ brand { code } }"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
    [line] = [line for line in request_log.lines if line.get("path") == "/graphql"]
    assert line["request_id"] == response.headers["x-request-id"]
    assert len(line["request_id"]) == 16
    assert line["brand"] == "brand-a"
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["status"] == 200
    assert line["message"] == "POST /graphql 200"


async def test_each_request_gets_its_own_id(http: httpx.AsyncClient) -> None:
    first, second = await http.get("/healthz"), await http.get("/healthz")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


def test_compose_file_has_the_four_services_with_health_checks() -> None:
    spec = yaml.safe_load(COMPOSE_FILE.read_text())
    services = spec["services"]
    assert set(services) == {"postgres", "redis", "api", "worker"}
    for name, service in services.items():
        assert service["healthcheck"]["test"], name
    api = services["api"]
    assert api["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    assert "tessera migrate &&" in " ".join(api["command"])
    assert services["worker"]["command"] == ["tessera", "worker"]
    assert api["environment"]["TESSERA_DATABASE_URL"].startswith("postgresql://")
    assert api["environment"]["TESSERA_REDIS_URL"].startswith("redis://redis:")


# The Compose Specification's JSON schema (Apache-2.0), as shipped in the
# docker-compose 1.29.2 package: the file is checked whether or not a
# `docker compose` client is installed.
COMPOSE_SCHEMA = Path(__file__).with_name("compose_spec.json")


def _compose_errors(spec: object) -> list[str]:
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    # Its "$schema" spells the 2019-09 draft's address in an old form: name it.
    validator = jsonschema.Draft201909Validator(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(spec)]


def test_the_compose_file_follows_the_compose_specification() -> None:
    assert _compose_errors(yaml.safe_load(COMPOSE_FILE.read_text())) == []


def test_the_compose_schema_refuses_a_broken_file() -> None:
    spec = yaml.safe_load(COMPOSE_FILE.read_text())
    spec["services"]["api"]["healthcheck"]["intervall"] = "5s"
    spec["services"]["worker"]["depends_on"] = {"api": {"condition": "when_ready"}}
    errors = _compose_errors(spec)
    assert len(errors) == 2, errors
