"""What every admin handler receives: the signed-in user, the brand and role in
use, the language and formatters, and helpers to render, redirect and audit."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from tortoise.exceptions import IntegrityError

from tessera.admin_ui.i18n import LOCALES, N_, Formatter, negotiate, translations
from tessera.admin_ui.registry import menu
from tessera.audit import service as audit
from tessera.auth.admin_users import BrandRole, roles_of
from tessera.auth.models import AdminFormSubmission, AdminUser
from tessera.auth.scopes import Scope
from tessera.errors import DomainError, DomainErrors
from tessera.members import pii
from tessera.models_base import BrandOwned
from tessera.request_context import brand_var, current_request_id
from tessera.scope import Actor, BrandScope

log = logging.getLogger("tessera.admin")
T = TypeVar("T")
M = TypeVar("M", bound=BrandOwned)

CSRF_FIELD = "csrf_token"
# Routes outside /admin/brands/{brand}.
UNBRANDED = frozenset({"home", "login", "logout", "locale", "switch", "static"})
CSRF_HEADER = "x-csrf-token"
# The hidden field an edit form carries: the version of what it was built from.
VERSION_FIELD = "form_version"
NOT_FOUND = N_("There is no such page.")
SENT_BEFORE = N_("This form was sent before; nothing changed twice.")
# A secret is shown in the answer to the first request only (it is never kept).
SECRET_SENT_BEFORE = N_(
    "This form was sent before; nothing changed twice. The secret was shown only "
    "in the answer to the first request: if you did not copy it, remove this one "
    "and create another."
)
STALE_FORM = N_(
    "Someone changed this after you opened the form, so nothing was saved. "
    "This is the current version: make your change again."
)

templates = Environment(
    loader=FileSystemLoader(str(Path(__file__).parent / "templates")),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def csrf_ok(request: Request) -> bool:
    """Whether a state-changing request carries the session's token (form field
    or, for htmx and scripts, the header)."""
    expected = request.session.get("csrf")
    if not isinstance(expected, str):
        return False
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    return sent is not None and hmac.compare_digest(sent, expected)


def errors_of(error: DomainError) -> dict[str, list[str]]:
    """A refusal's messages by the form field they belong to (the last part of
    the service's field path; ``""`` for the form as a whole)."""
    found: dict[str, list[str]] = {}
    for one in error.errors if isinstance(error, DomainErrors) else [error]:
        name = one.field[-1] if one.field else ""
        found.setdefault(str(name), []).append(one.message)
    return found


def shown_once(response: Response) -> Response:
    """``response`` carries a secret (a password, a key, a token) shown only
    here: no cache may keep it."""
    response.headers["cache-control"] = "no-store"
    return response


def version_of(*state: Any) -> str:
    """A fingerprint of the state an edit form shows, so a save can tell that
    someone else changed it after the form was opened (see ``Ctx.stale``)."""
    text = json.dumps(state, default=str, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@dataclass
class Ctx:
    request: Request
    user: AdminUser | None
    locale: str
    brands: list[BrandRole] = field(default_factory=list)
    current: BrandRole | None = None
    # Members whose unmasked identity values this request showed (see shown()).
    personal_reads: set[int] = field(default_factory=set)

    @classmethod
    async def load(cls, request: Request) -> Ctx:
        user = None
        user_id = request.session.get("user_id")
        if isinstance(user_id, int):
            user = await AdminUser.get_or_none(id=user_id, is_active=True)
        setting = (user.locale if user else None) or request.session.get("locale")
        locale = negotiate(setting, request.headers.get("accept-language", ""))
        brands = await roles_of(user) if user else []
        return cls(request, user, locale, brands)

    # --- the brand in use -------------------------------------------------

    @property
    def scope(self) -> BrandScope:
        assert self.current is not None and self.user is not None
        actor = Actor("admin_user", str(self.user.id), self.user.email)
        return BrandScope(self.current.brand, actor)

    def can(self, needed: Scope) -> bool:
        return self.current is not None and needed in self.current.scopes

    def shown(self, member_id: int, kind: str, value: str | None) -> str | None:
        """An identity value as this user may see it: masked without the
        ``pii`` permission; in full with it, noted for
        :meth:`audit_personal_reads` (as GraphQL does,
        :mod:`tessera.schema.members.personal`)."""
        if value is None or not pii.is_sealed(kind):
            return value
        if self.can(Scope.PII):
            self.personal_reads.add(member_id)
            return value
        return pii.mask(kind, value)

    async def audit_personal_reads(self) -> None:
        """One entry for the page's unmasked reads, after it is rendered."""
        if self.personal_reads:
            await audit.record(
                self.scope,
                pii.READ_ACTION,
                "ok",
                {"memberIds": sorted(self.personal_reads), "via": "admin"},
                current_request_id(),
            )
            self.personal_reads.clear()

    def use_brand(self, code: str) -> bool:
        for held in self.brands:
            if held.brand.code == code:
                self.current = held
                brand_var.set(code)
                return True
        return False

    @property
    def fmt(self) -> Formatter:
        brand = self.current.brand if self.current else None
        return Formatter(
            self.locale,
            brand.timezone if brand else "UTC",
            brand.currency if brand else "CNY",
        )

    # --- responses ----------------------------------------------------------

    def gettext(self, message: str) -> str:
        return translations(self.locale).gettext(message)

    def url(self, name: str, **params: Any) -> str:
        if self.current is not None and name not in UNBRANDED:
            params.setdefault("brand", self.current.brand.code)
        return self.request.url_for(name, **params).path

    def flash(self, message: str, kind: str = "ok") -> None:
        # Assigned, not appended in place: the session saves only what it sees set.
        self.request.session["flash"] = [*self.request.session.get("flash", []), [kind, message]]

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        flashes = self.request.session.pop("flash", [])
        body = templates.get_template(template).render(
            _=self.gettext,
            ctx=self,
            user=self.user,
            brands=self.brands,
            current=self.current,
            menu=menu(self.current.scopes) if self.current else [],
            fmt=self.fmt,
            url=self.url,
            csrf=csrf_token(self.request),
            form_key=lambda: uuid.uuid4().hex,
            locale=self.locale,
            locales=LOCALES,
            flashes=flashes,
            **values,
        )
        return HTMLResponse(body, status_code=status)

    def redirect(self, path: str, flash: str | None = None) -> Response:
        """See other ``path``, which shows ``flash`` (a translated text) once."""
        if flash is not None:
            self.flash(flash)
        return RedirectResponse(path, status_code=303)

    def refused(self, status: int, message: str) -> HTMLResponse:
        return self.render("error.html", status=status, message=self.gettext(message))

    def confirm_delete(
        self,
        title: str,
        what: str,
        *,
        action: str,
        back: str,
        note: str | None = None,
        errors: dict[str, list[str]] | None = None,
        status: int = 200,
    ) -> HTMLResponse:
        """The page that asks before a delete is posted to ``action`` (again,
        with the service's ``errors``, when it refused)."""
        return self.render(
            "confirm_delete.html",
            status=status,
            title=title,
            what=what,
            note=note,
            action=action,
            back=back,
            errors=errors or {},
        )

    def not_found(self) -> HTMLResponse:
        return self.refused(404, NOT_FOUND)

    def path_id(self, name: str) -> int | None:
        """The path parameter ``name`` as a row id; ``None`` when it is not one."""
        raw = str(self.request.path_params.get(name, ""))
        return int(raw) if raw.isdigit() else None

    async def row(self, model: type[M], param: str) -> M | None:
        """The brand's ``model`` row named by the path parameter ``param``
        (``None``, for :meth:`not_found`, when there is none)."""
        row_id = self.path_id(param)
        return None if row_id is None else await self.scope.get(model, row_id)

    def stale_errors(self) -> dict[str, list[str]]:
        """The form errors an edit page shows when :meth:`stale` refused a save."""
        return {"": [self.gettext(STALE_FORM)]}

    @property
    def htmx(self) -> bool:
        """Whether htmx sent the request (it then wants the fragment, not the page)."""
        return self.request.headers.get("hx-request") == "true"

    async def form(self) -> FormData:
        return await self.request.form()

    @asynccontextmanager
    async def once(self, key: str) -> AsyncIterator[bool]:
        """For a form whose operation takes no idempotency key in the API:
        ``True`` for the first request carrying the form's ``key``, which then
        does the work; ``False`` for a repeat (a double click, a reload), which
        must change nothing. The key is claimed before the work, so two
        requests sent at once cannot both do it; work that raises gives it
        back, so the corrected form may be sent again. A post without a key
        (a script) is not checked."""
        claimed = False
        if key:
            try:
                await self.scope.create(AdminFormSubmission, key=key[:64])
                claimed = True
            except IntegrityError:
                yield False
                return
        try:
            yield True
        except BaseException:
            if claimed:
                await self.scope.query(AdminFormSubmission).filter(key=key[:64]).delete()
            raise

    def replayed(self, message: str = SENT_BEFORE) -> None:
        self.flash(self.gettext(message), "warning")

    async def posted_version(self) -> str | None:
        """The version the posted edit form was built from (``None`` without one)."""
        sent = (await self.form()).get(VERSION_FIELD)
        return sent if isinstance(sent, str) else None

    async def stale(self, current_version: str) -> bool:
        """Whether the posted form was built from another version than
        ``current_version``: saving it would silently overwrite someone else's
        change. A post without the field (a script) is not checked."""
        sent = await self.posted_version()
        return sent is not None and not hmac.compare_digest(sent, current_version)

    # --- auditing ---------------------------------------------------------------

    async def audited(
        self, action: str, details: dict[str, Any], work: Callable[[], Awaitable[T]]
    ) -> T:
        """Run ``work`` and write the audit entry an API mutation would: ``ok``,
        ``rejected`` (a DomainError, re-raised) or ``failed``."""
        outcome = "failed"
        try:
            result = await work()
            outcome = "ok"
            return result
        except DomainError:
            outcome = "rejected"
            raise
        finally:
            await self.audit(action, outcome, details)

    async def audit(self, action: str, outcome: str, details: dict[str, Any]) -> None:
        try:
            await audit.record(
                self.scope,
                action,
                outcome,
                {"input": details, "via": "admin"},
                current_request_id(),
            )
        except Exception:
            log.exception("could not write the audit entry for %s", action)
