"""The transactional outbox: work that must follow a commit (segment
re-evaluation, activity rewards, later webhooks) is written as rows in the
same transaction as the change, then relayed to the job queue and marked done.
See docs/operations.md, "The outbox"."""
