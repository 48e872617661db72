"""Email over SMTP (aiosmtplib): STARTTLS, implicit TLS or plain, with or
without authentication; a text part and, when the template has one, an HTML
alternative."""

from __future__ import annotations

import ssl
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Literal

import aiosmtplib
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from tessera import ChannelSender, OutboundMessage, SendResult


class SmtpConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field(description="SMTP server host name")
    port: int = Field(587, ge=1, le=65535, description="587 for STARTTLS, 465 for TLS")
    security: Literal["starttls", "tls", "none"] = Field(
        "starttls",
        description="starttls: upgrade a plain connection; tls: TLS from the first byte; "
        "none: no encryption (a relay on the same host only)",
    )
    username: str | None = Field(None, description="login; empty for a server without auth")
    password: SecretStr | None = Field(None, description="write-only")
    from_address: str = Field(description="the From address, e.g. care@brand.example")
    from_name: str | None = Field(None, description="the name shown beside From")
    reply_to: str | None = Field(None, description="where replies go, if not to From")
    timeout_s: float = Field(30.0, gt=0, le=300, description="per connection and command")
    verify_tls: bool = Field(True, description="check the server's certificate")


class SmtpEmailSender(ChannelSender):
    key = "email_smtp"
    title = "Email (SMTP)"
    description = "Sends email through an SMTP server, with STARTTLS or TLS and login."
    channel = "email"
    Config = SmtpConfig

    config: SmtpConfig

    def build(self, message: OutboundMessage) -> EmailMessage:
        cfg = self.config
        mail = EmailMessage()
        mail["From"] = formataddr((cfg.from_name or "", cfg.from_address))
        mail["To"] = message.to
        mail["Subject"] = message.subject or ""
        if cfg.reply_to:
            mail["Reply-To"] = cfg.reply_to
        domain = cfg.from_address.rpartition("@")[2] or None
        # Tessera's id in the Message-ID, so a bounce that quotes it names the message.
        mail["Message-ID"] = make_msgid(idstring=message.message_id or None, domain=domain)
        unsubscribe = message.data.get("unsubscribe_url")
        if unsubscribe:
            # RFC 2369 and RFC 8058: mail clients offer one-click unsubscribe.
            mail["List-Unsubscribe"] = f"<{unsubscribe}>"
            mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        mail.set_content(message.body)
        if message.html:
            mail.add_alternative(message.html, subtype="html")
        return mail

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if not self.config.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    async def send(self, message: OutboundMessage) -> SendResult:
        cfg = self.config
        mail = self.build(message)
        password = cfg.password.get_secret_value() if cfg.password else None
        try:
            errors, _reply = await aiosmtplib.send(
                mail,
                hostname=cfg.host,
                port=cfg.port,
                username=cfg.username or None,
                password=password if cfg.username else None,
                use_tls=cfg.security == "tls",
                # False, not None: "none" must not upgrade opportunistically either.
                start_tls=cfg.security == "starttls",
                tls_context=self._tls_context() if cfg.security != "none" else None,
                timeout=cfg.timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            return _recipient_refused(exc.recipients)
        except aiosmtplib.SMTPAuthenticationError as exc:
            return SendResult.failed(
                f"SMTP login refused: {exc.code} {exc.message}", retryable=False
            )
        except aiosmtplib.SMTPResponseException as exc:
            # 4xx is "try later" in SMTP; 5xx is final.
            return SendResult.failed(f"SMTP {exc.code}: {exc.message}", retryable=exc.code < 500)
        except (
            aiosmtplib.SMTPConnectError,
            aiosmtplib.SMTPTimeoutError,
            aiosmtplib.SMTPServerDisconnected,
            OSError,
        ) as exc:
            return SendResult.failed(f"{type(exc).__name__}: {exc}", retryable=True)
        except aiosmtplib.SMTPException as exc:
            # e.g. login configured but the server offers no AUTH: the config is wrong.
            return SendResult.failed(f"{type(exc).__name__}: {exc}", retryable=False)
        if errors:
            return _recipient_refused(
                [
                    aiosmtplib.SMTPRecipientRefused(code, text, rcpt)
                    for rcpt, (code, text) in errors.items()
                ]
            )
        return SendResult.delivered(str(mail["Message-ID"]))


def _recipient_refused(refusals: list[aiosmtplib.SMTPRecipientRefused]) -> SendResult:
    first = refusals[0]
    error = f"SMTP {first.code}: {first.message}"
    if first.code >= 500:
        return SendResult.rejected(error)  # no such mailbox: do not try this address again
    return SendResult.failed(error, retryable=True)
