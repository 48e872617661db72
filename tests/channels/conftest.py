"""Real local servers for the channel senders, each answering as its
provider would: an HTTP server a test gives an answering function (Alibaba
Cloud SMS, WeChat, push), an aiosmtpd SMTP server (plain, STARTTLS or
implicit TLS, with login) and a JSON HTTP SMS gateway."""

from __future__ import annotations

import datetime as dt
import json
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tessera.plugins.channels import wechat
from tessera.testing import ProviderServer, local_http_server, provider_server


@pytest.fixture
def provider() -> Iterator[ProviderServer]:
    with provider_server() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_wechat_tokens() -> Iterator[None]:
    # Each test's server is a new WeChat: tokens cached for another are void.
    wechat.forget_tokens()
    yield
    wechat.forget_tokens()


SMTP_USER, SMTP_PASSWORD = "tessera", "s3cret-pw"


@dataclass
class Mailbox:
    host: str
    port: int
    messages: list[Message] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    user: str = SMTP_USER
    password: str = SMTP_PASSWORD
    refuse: dict[str, str] = field(default_factory=dict)
    """recipient -> SMTP reply, e.g. ``550 no such user``"""

    def config(self, **extra: Any) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "security": "none",
            "from_address": "care@brand.example",
            **extra,
        }


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.box.refuse:
            return self.box.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.box.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.box.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted"


def _authenticate(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (
        auth_data.login.decode(),
        auth_data.password.decode(),
    ) == (SMTP_USER, SMTP_PASSWORD)
    return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def _server_context(tls_files: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*tls_files)
    return context


def _start(mode: str, tls_files: tuple[Path, Path]) -> tuple[Controller, Mailbox]:
    box = Mailbox("127.0.0.1", 0)
    kwargs: dict[str, Any] = {"authenticator": _authenticate}
    if mode == "starttls":
        kwargs.update(tls_context=_server_context(tls_files), require_starttls=True)
    elif mode == "tls":
        # Implicit TLS: aiosmtpd does not know the socket is encrypted.
        kwargs.update(ssl_context=_server_context(tls_files), auth_require_tls=False)
    else:
        kwargs.update(auth_require_tls=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        box.port = probe.getsockname()[1]
    controller = Controller(_Handler(box), hostname="127.0.0.1", port=box.port, **kwargs)
    controller.start()
    return controller, box


@pytest.fixture
def smtp_server(tls_files: tuple[Path, Path]) -> Iterator[Mailbox]:
    """A real SMTP server (aiosmtpd, a thread) without encryption; login optional."""
    controller, box = _start("none", tls_files)
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture(params=["starttls", "tls"])
def smtp_tls_server(
    request: pytest.FixtureRequest, tls_files: tuple[Path, Path]
) -> Iterator[tuple[str, Mailbox]]:
    controller, box = _start(request.param, tls_files)
    try:
        yield request.param, box
    finally:
        controller.stop()


@dataclass
class SmsGateway:
    url: str
    received: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)
    answers: list[tuple[int, Any]] = field(default_factory=list)
    """answered in turn (the last one repeats); default 200 {"status": "ok"}"""

    def answer(self) -> tuple[int, Any]:
        if not self.answers:
            return 200, {"status": "ok", "id": f"gw-{len(self.received)}"}
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


@pytest.fixture
def sms_gateway() -> Iterator[SmsGateway]:
    """A real HTTP server (a thread) that speaks a JSON SMS gateway."""
    state = SmsGateway(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            state.received.append((self.path, headers, json.loads(body)))
            status, answer = state.answer()
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_PUT = do_POST

        def log_message(self, format: str, *args: object) -> None:
            pass

    with local_http_server(Handler) as base:
        state.url = f"{base}/sms"
        yield state
