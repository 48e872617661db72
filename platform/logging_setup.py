"""Structured log lines: one JSON object per line with the request id and brand."""

from __future__ import annotations

import json
import logging
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


def configure(json_lines: bool, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter()
        if json_lines
        else TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's own access log repeats what our request log line says.
    logging.getLogger("uvicorn.access").disabled = True
