"""Templates are refused at save with the position of each problem, render
in a sandbox, and preview for a member."""

from __future__ import annotations

from typing import Any

import pytest

from tessera.channels import rendering, service
from tessera.channels.models import Channel
from tessera.errors import DomainError, DomainErrors
from tessera.scope import BrandScope


def problems(
    channel: Channel, body: str, subject: str = "", html: str = ""
) -> list[tuple[str, list[str] | None, str]]:
    with pytest.raises(DomainError) as caught:
        rendering.check(channel, body, subject, html)
    errors = caught.value.errors if isinstance(caught.value, DomainErrors) else [caught.value]
    return [(e.code, e.field, e.message) for e in errors]


def test_unknown_variables_are_named_with_their_line() -> None:
    assert problems(Channel.EMAIL, "Hi {{ member.name }}\nYou have {{ pionts }}") == [
        ("UNKNOWN_VARIABLE", ["body"], "line 2: unknown variable 'pionts'")
    ]
    assert problems(Channel.EMAIL, "x", subject="{{ member.nmae }}") == [
        ("UNKNOWN_VARIABLE", ["subject"], "line 1: member has no 'nmae'")
    ]
    # Loop variables and sets are the template's own.
    rendering.check(
        Channel.EMAIL, "{% set n = points %}{{ n }}{% for c in [1] %}{{ c }}{% endfor %}", "", ""
    )


def test_syntax_errors_give_the_line() -> None:
    [(code, field, message)] = problems(Channel.SMS, "Hi\n{% if points %}many")
    assert (code, field) == ("INVALID_TEMPLATE", ["body"]) and message.startswith("line 2:")


def test_bad_html_gives_line_and_column() -> None:
    assert problems(Channel.EMAIL, "x", html="<div>\n  <p>hi</div>") == [
        ("INVALID_HTML", ["html"], "line 2, column 8: </div> where </p> is due")
    ]
    assert problems(Channel.EMAIL, "x", html="<table><tr><td>x</td></tr>") == [
        ("INVALID_HTML", ["html"], "line 1, column 1: <table> is never closed")
    ]
    rendering.check(Channel.EMAIL, "x", "", "<p>a<br>b<img src=x></p>")


def test_sms_segments_gsm7_and_ucs2() -> None:
    assert rendering.sms_length("a" * 160) == rendering.SmsLength("GSM-7", 160, 1)
    assert rendering.sms_length("a" * 161).segments == 2
    assert rendering.sms_length("€" * 80) == rendering.SmsLength("GSM-7", 160, 1)
    assert rendering.sms_length("您" * 70) == rendering.SmsLength("UCS-2", 70, 1)
    assert rendering.sms_length("您" * 71).segments == 2
    assert rendering.sms_length("您" * 134).segments == 2
    assert rendering.sms_length("您" * 135).segments == 3


def test_sms_over_the_limit_is_refused() -> None:
    [(code, field, message)] = problems(Channel.SMS, "您好" * 200)
    assert (code, field) == ("SMS_TOO_LONG", ["body"])
    assert "UCS-2" in message and "at most 5" in message


def test_the_sandbox_refuses_python_internals() -> None:
    with pytest.raises(DomainError) as caught:
        rendering.render(Channel.SMS, "{{ member.__class__.__mro__ }}", "", "", rendering.SAMPLE)
    assert caught.value.code == "INVALID_TEMPLATE"


def test_only_email_has_subject_and_html() -> None:
    assert problems(Channel.SMS, "x", subject="s") == [
        ("INVALID", ["subject"], "only email templates have a subject or HTML")
    ]


async def test_a_bad_template_changes_nothing_and_preview_renders_for_a_member(
    brand_a: Any, new_member: Any
) -> None:
    scope = BrandScope(brand_a)
    with pytest.raises(DomainError):
        await service.create_template(scope, name="t", channel=Channel.SMS, body="{{ nope }}")
    assert await service.templates(scope).count() == 0
    template = await service.create_template(
        scope,
        name="t",
        channel=Channel.EMAIL,
        subject="Hi {{ member.name }}",
        body="{{ brand.name }}: {{ points }}",
        html="<p>{{ member.name }}</p>",
    )
    member = await new_member(brand_a, name="<Ann>", email="ann@example.com")
    preview = await service.preview_template(scope, template.id, member.pk)
    assert preview.subject == "Hi <Ann>" and preview.body == "Brand BRAND-A: 0"
    assert preview.html == "<p>&lt;Ann&gt;</p>"  # HTML parts escape variables
    with pytest.raises(DomainError) as caught:
        await service.update_template(scope, template.id, html="<p>")
    assert caught.value.code == "INVALID_HTML"
    assert (await service.require_template(scope, template.id)).html == "<p>{{ member.name }}</p>"
