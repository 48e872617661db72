"""Long-running processes: the API server and the job worker."""

from __future__ import annotations

import typer
import uvicorn

from tessera import logging_setup
from tessera.cli.runner import BAD_INPUT, fail, settings

app = typer.Typer()


@app.command(rich_help_panel="Run")
def serve(
    host: str | None = typer.Option(None, help="Interface to bind [default: TESSERA_HOST]."),
    port: int | None = typer.Option(None, help="Port to listen on [default: TESSERA_PORT]."),
    workers: int = typer.Option(1, min=1, help="Server processes (each with its own pool)."),
) -> None:
    """Serve the API (/graphql, /admin, /healthz, /readyz) with uvicorn."""
    cfg = settings()
    logging_setup.configure(cfg.log_json)
    uvicorn.run(
        "tessera.app:create_app",
        factory=True,
        host=host or cfg.host,
        port=port or cfg.port,
        workers=workers,
        # Keeps our logging set-up in charge: one structured line per request.
        log_config=None,
    )


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

    run_worker(cfg, burst=burst)
