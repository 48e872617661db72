"""Background jobs: a registry of job functions, a queue that runs them on arq
(Redis) or in-process, and the arq worker. See docs/jobs.md."""

from arq.worker import Retry

__all__ = ["Retry"]
