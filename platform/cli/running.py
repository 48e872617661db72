"""Long-running processes: the API server and the job worker."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

import typer
import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from tessera import logging_setup
from tessera.cli.runner import BAD_INPUT, FAILURE, fail, settings
from tessera.collector import freeze_start_up

if TYPE_CHECKING:
    from starlette.applications import Starlette

app = typer.Typer()
log = logging.getLogger("tessera.server")


def server_app() -> Starlette:
    """uvicorn's app factory, called in every server process. A failure to build
    the app is logged with its traceback, and ends the process as a start-up
    failure: with ``--workers`` uvicorn then stops instead of restarting a child
    that can only fail again."""
    from tessera.app import create_app

    try:
        built = create_app()
    except Exception:
        log.exception("the API app could not be built; this server process stops")
        sys.exit(STARTUP_FAILURE)
    # The collector's CPU per slot(key) request fell from ~0.7 ms to ~0.3 ms.
    freeze_start_up()
    return built


@app.command(rich_help_panel="Run")
def serve(
    host: str | None = typer.Option(None, help="Interface to bind [default: TESSERA_HOST]."),
    port: int | None = typer.Option(None, help="Port to listen on [default: TESSERA_PORT]."),
    workers: int = typer.Option(1, min=1, help="Server processes (each with its own pool)."),
) -> None:
    """Serve the API (/graphql, /admin, /healthz, /readyz) with uvicorn."""
    cfg = settings()
    logging_setup.configure(cfg.log_json)
    config = uvicorn.Config(
        "tessera.cli.running:server_app",
        factory=True,
        host=host or cfg.host,
        port=port or cfg.port,
        workers=workers,
        # Applied again in each `--workers` child (a fresh interpreter): every
        # process writes the same structured lines, the children's request lines
        # and start-up failures included.
        log_config=logging_setup.dict_config(cfg.log_json),
    )
    if workers == 1:
        server = uvicorn.Server(config)
        server.run()
        if not server.started:
            raise typer.Exit(STARTUP_FAILURE)
        return
    supervisor = Multiprocess(config, sockets=[config.bind_socket()])
    supervisor.run()
    # uvicorn's supervisor stops when a child cannot start, yet exits 0: say it failed,
    # so that whatever restarts the service sees it.
    if any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes):
        raise typer.Exit(STARTUP_FAILURE)


@app.command(rich_help_panel="Run")
def worker(
    burst: bool = typer.Option(False, help="Stop once the queue is empty."),
) -> None:
    """Run the arq job worker on TESSERA_REDIS_URL until SIGINT/SIGTERM."""
    cfg = settings()
    if not cfg.redis_url:
        fail(
            "TESSERA_REDIS_URL is not set; without Redis, jobs run inside the API process "
            "and no worker is needed",
            BAD_INPUT,
        )
    # Imported here: only the worker process needs arq's worker machinery.
    from tessera.jobs.worker import run_worker

    logging_setup.configure(cfg.log_json)
    try:
        run_worker(cfg, burst=burst, queue_name=cfg.queue_name)
    except Exception:
        # A worker that cannot start (or dies) says why in its own log lines.
        log.exception("the job worker stopped on an error")
        raise typer.Exit(FAILURE) from None
