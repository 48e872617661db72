"""Reaching members on their channels: templates, consent and do-not-contact,
the one gate every send passes, the message log and its delivery, receipts,
unsubscribe links and triggered messages (docs/channels.md)."""
