"""Structured log lines: one JSON object per line with the process id, the request
id and the brand. Every Tessera process (the API, each of its ``--workers``, each
job worker, the CLI) logs through :func:`configure` or :func:`dict_config`."""

from __future__ import annotations

import json
import logging
import logging.config
from datetime import UTC, datetime
from typing import Any

from tessera.request_context import brand_var, request_id_var

# uvicorn adds `color_message` (its message with ANSI colours) to its records.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
            "request_id": request_id_var.get(),
            "brand": brand_var.get(),
        }
        line.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        context = [
            f"{name}={value}"
            for name, value in (
                ("request_id", request_id_var.get()),
                ("brand", brand_var.get()),
                ("duration_ms", getattr(record, "duration_ms", None)),
            )
            if value is not None
        ]
        return f"{base} [{' '.join(context)}]" if context else base


TEXT_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"


def dict_config(json_lines: bool, level: int = logging.INFO) -> dict[str, Any]:
    """The set-up as a :func:`logging.config.dictConfig` dictionary: uvicorn applies
    it (``log_config``) in each server process it starts, so ``--workers`` children,
    which share nothing with the parent, log exactly as the parent does."""
    formatter: dict[str, Any] = (
        {"()": JsonFormatter} if json_lines else {"()": TextFormatter, "fmt": TEXT_FORMAT}
    )
    return {
        "version": 1,
        # Loggers created at import time (uvicorn's, the libraries') keep working.
        "disable_existing_loggers": False,
        "formatters": {"tessera": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "tessera"}},
        "root": {"handlers": ["stderr"], "level": level},
        # uvicorn's own access log repeats what our request log line says.
        "loggers": {"uvicorn.access": {"handlers": [], "propagate": False}},
    }


def configure(json_lines: bool, level: int = logging.INFO) -> None:
    logging.config.dictConfig(dict_config(json_lines, level))
