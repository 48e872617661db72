"""The brand's audit log with filters: who, what, when."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from starlette.responses import Response

from tessera.admin_ui.context import Ctx
from tessera.admin_ui.i18n import N_
from tessera.admin_ui.registry import page
from tessera.audit.models import AuditLogEntry
from tessera.auth.scopes import Scope

PAGE_SIZE = 100
OUTCOMES = ("ok", "rejected", "forbidden", "failed")


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@page("/audit", "audit_log", permission=Scope.ADMIN, title=N_("Audit log"), nav_group="Settings")
async def audit_log(ctx: Ctx) -> Response:
    params = ctx.request.query_params
    actor = params.get("actor", "").strip()
    action = params.get("action", "").strip()
    outcome = params.get("outcome", "")
    since, until = _day(params.get("from", "")), _day(params.get("to", ""))
    zone = ZoneInfo(ctx.scope.brand.timezone)
    query = ctx.scope.query(AuditLogEntry)
    if actor:
        query = query.filter(actor_id=actor) if actor.isdigit() else query.filter(actor_kind=actor)
    if action:
        query = query.filter(action__icontains=action)
    if outcome in OUTCOMES:
        query = query.filter(outcome=outcome)
    if since:
        query = query.filter(created_at__gte=datetime.combine(since, time(), zone))
    if until:
        query = query.filter(
            created_at__lt=datetime.combine(until + timedelta(days=1), time(), zone)
        )
    entries = await query.order_by("-id").limit(PAGE_SIZE)
    return ctx.render(
        "audit_log.html",
        title=N_("Audit log"),
        entries=entries,
        outcomes=OUTCOMES,
        filters={
            "actor": actor,
            "action": action,
            "outcome": outcome,
            "from": params.get("from", ""),
            "to": params.get("to", ""),
        },
    )
