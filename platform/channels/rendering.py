"""Rendering message templates in a Jinja2 sandbox, and checking them at save.

Templates see only the variables below (a template cannot reach Python
objects: the sandbox refuses unsafe attributes, and the variables are plain
dicts). ``StrictUndefined`` makes a misspelt variable an error, not an empty
string in a member's message; the save-time check finds it with its line.
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from tessera.channels.models import Channel
from tessera.errors import DomainError, DomainErrors

# Variable -> the keys it has (None: a plain value). What a template may use.
VARIABLES: dict[str, frozenset[str] | None] = {
    "member": frozenset(
        {"id", "name", "card_number", "email", "phone", "birthday", "joined_at", "external_id"}
    ),
    "tier": frozenset({"code", "name"}),
    "points": None,
    "coupon": frozenset({"code", "title", "expires_at"}),
    "links": frozenset({"unsubscribe"}),
    "brand": frozenset({"name", "code"}),
    "event": None,  # the triggering event's data, as the webhook catalogue documents it
}

# What previews and the save-time length check render with when no member is given.
SAMPLE: dict[str, Any] = {
    "member": {
        "id": 1,
        "name": "Li Lei",
        "card_number": "M000001",
        "email": "li.lei@example.com",
        "phone": "+8613800000000",
        "birthday": "1990-01-01",
        "joined_at": "2026-01-01",
        "external_id": "ext-1",
    },
    "tier": {"code": "gold", "name": "Gold"},
    "points": 1200,
    "coupon": {"code": "ABCD-EFGH", "title": "10 off", "expires_at": "2026-12-31"},
    "links": {"unsubscribe": "https://example.com/channels/unsubscribe/TOKEN"},
    "brand": {"name": "Brand", "code": "brand"},
    "event": {},
}

MAX_SMS_SEGMENTS = 5

_text_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_html_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True)

# GSM 03.38 basic set and its extension (each extension character takes two septets).
_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXT = set("^{}\\[~]|€\f")


@dataclass(frozen=True)
class SmsLength:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def sms_length(text: str) -> SmsLength:
    """How many segments ``text`` takes: 160 GSM-7 characters in one SMS (153
    per part when split), or 70 UCS-2 units (67 per part) once any character
    is outside GSM-7, e.g. Chinese."""
    if all(c in _GSM7 or c in _GSM7_EXT for c in text):
        units = sum(2 if c in _GSM7_EXT else 1 for c in text)
        single, part, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, part, encoding = 70, 67, "UCS-2"
    segments = 0 if units == 0 else 1 if units <= single else -(-units // part)
    return SmsLength(encoding, units, segments)


@dataclass(frozen=True)
class Rendered:
    body: str
    subject: str | None = None
    html: str | None = None


def render(
    channel: Channel, body: str, subject: str, html: str, variables: dict[str, Any]
) -> Rendered:
    """Render a template's parts; raises :class:`DomainError` (the field named)
    when a variable is missing or the sandbox refuses something."""
    return Rendered(
        body=_render(_text_env, body, variables, "body"),
        subject=_render(_text_env, subject, variables, "subject") if subject else None,
        html=_render(_html_env, html, variables, "html") if html else None,
    )


def _render(env: SandboxedEnvironment, source: str, variables: dict[str, Any], name: str) -> str:
    try:
        return env.from_string(source).render(variables)
    except (UndefinedError, SecurityError) as exc:
        raise DomainError("INVALID_TEMPLATE", f"cannot render: {exc}", [name]) from exc
    except TemplateSyntaxError as exc:
        raise DomainError("INVALID_TEMPLATE", f"line {exc.lineno}: {exc.message}", [name]) from exc


def check(channel: Channel, body: str, subject: str, html: str) -> None:
    """Refuse a template that would fail or misbehave when sent: a syntax
    error, an unknown variable, an SMS over :data:`MAX_SMS_SEGMENTS`, HTML that
    is not well formed. Every problem is reported, each with its position."""
    problems: list[DomainError] = []
    parts = {"body": body, "subject": subject, "html": html}
    if not body.strip():
        problems.append(DomainError("REQUIRED", "a template needs a body", ["body"]))
    for name, source in parts.items():
        if source:
            problems += _check_source(_html_env if name == "html" else _text_env, source, name)
    if channel is not Channel.EMAIL:
        problems += [
            DomainError("INVALID", "only email templates have a subject or HTML", [name])
            for name in ("subject", "html")
            if parts[name]
        ]
    if html and not problems:
        problems += _check_html(html)
    if channel is Channel.SMS and not problems:
        length = sms_length(_render(_text_env, body, SAMPLE, "body"))
        if length.segments > MAX_SMS_SEGMENTS:
            problems.append(
                DomainError(
                    "SMS_TOO_LONG",
                    f"renders to {length.segments} {length.encoding} segments "
                    f"({length.units} units); at most {MAX_SMS_SEGMENTS}",
                    ["body"],
                )
            )
    if problems:
        raise DomainErrors(problems)


def _check_source(env: SandboxedEnvironment, source: str, name: str) -> list[DomainError]:
    try:
        tree = env.parse(source)
    except TemplateSyntaxError as exc:
        return [DomainError("INVALID_TEMPLATE", f"line {exc.lineno}: {exc.message}", [name])]
    assigned = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    problems = []
    for node in tree.find_all(nodes.Name):
        if node.ctx != "load" or node.name in assigned:
            continue
        if node.name not in VARIABLES:
            problems.append(
                DomainError(
                    "UNKNOWN_VARIABLE",
                    f"line {node.lineno}: unknown variable {node.name!r}",
                    [name],
                )
            )
    for access in tree.find_all(nodes.Getattr):
        target = access.node
        if isinstance(target, nodes.Name) and target.name not in assigned:
            keys = VARIABLES.get(target.name)
            if keys is not None and access.attr not in keys:
                problems.append(
                    DomainError(
                        "UNKNOWN_VARIABLE",
                        f"line {access.lineno}: {target.name} has no {access.attr!r}",
                        [name],
                    )
                )
    return problems


# Elements that have no end tag.
_VOID = frozenset(
    "area base br col embed hr img input link meta source track wbr".split()  # noqa: SIM905
)


class _Balance(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[tuple[str, tuple[int, int]]] = []
        self.problem: str | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag not in _VOID:
            self.open.append((tag, self.getpos()))

    def handle_endtag(self, tag: str) -> None:
        if self.problem or tag in _VOID:
            return
        line, col = self.getpos()
        if not self.open or self.open[-1][0] != tag:
            expected = f"</{self.open[-1][0]}>" if self.open else "no end tag"
            self.problem = f"line {line}, column {col + 1}: </{tag}> where {expected} is due"
            return
        self.open.pop()


def _check_html(html: str) -> list[DomainError]:
    parser = _Balance()
    parser.feed(html)
    parser.close()
    if parser.problem is None and parser.open:
        tag, (line, col) = parser.open[-1]
        parser.problem = f"line {line}, column {col + 1}: <{tag}> is never closed"
    if parser.problem:
        return [DomainError("INVALID_HTML", parser.problem, ["html"])]
    return []
