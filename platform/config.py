"""Process configuration, read from ``TESSERA_*`` environment variables."""

from __future__ import annotations

import secrets
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Limits(BaseSettings):
    """Caps on what one GraphQL request may ask for. Documented in docs/operations.md."""

    model_config = SettingsConfigDict(env_prefix="TESSERA_LIMIT_")

    max_depth: int = Field(12, ge=2, description="deepest selection nesting")
    max_tokens: int = Field(4000, ge=100, description="lexical tokens in one document")
    max_aliases: int = Field(30, ge=1, description="aliases in one document")
    max_body_bytes: int = Field(1_048_576, ge=1024, description="request body size")
    page_size: int = Field(100, ge=1, description="largest `first` of a connection")


class Settings(BaseSettings):
    """Everything a Tessera process needs to know about its surroundings."""

    model_config = SettingsConfigDict(env_prefix="TESSERA_", extra="ignore")

    environment: Environment = Environment.DEVELOPMENT
    database_url: str = "sqlite://var/tessera.sqlite3"
    redis_url: str | None = None
    queue_name: str | None = Field(
        None, description="arq queue the API enqueues on and the worker reads; unset: arq's"
    )
    secret_key: SecretStr | None = None
    var_dir: Path = Path("var")
    host: str = "127.0.0.1"
    port: int = 8000
    load_plugins: str | None = Field(
        None, description="comma-separated plugin names to load; unset loads all installed"
    )
    trace_plugins: bool = False
    log_json: bool = True
    limits: Limits = Field(default_factory=Limits)
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="comma-separated origins whose browser apps may call /graphql "
        "(e.g. `https://shop.example.com`); `*` allows any; unset allows none",
    )

    campaign_batch_size: int = Field(
        1000, ge=1, description="recipients a campaign decides and queues per batch job"
    )
    outbox_concurrency: int = Field(
        4, ge=1, description="follow-up jobs the in-process runner (no Redis) runs at once"
    )
    outbox_poll_s: float = Field(
        1.0, gt=0, description="how often a relay looks for work other processes wrote"
    )
    outbox_lease_s: float = Field(
        600.0, gt=0, description="after this long a claimed, unfinished entry is due again"
    )
    public_url: str = Field(
        "http://127.0.0.1:8000",
        description="address of this API as members reach it; unsubscribe and receipt "
        "links start with it",
    )
    webhook_allow_private_networks: bool | None = Field(
        None,
        description="let webhook URLs reach loopback, private and link-local addresses "
        "(SSRF guard); unset: only in development",
    )
    webhook_timeout_s: float = Field(10.0, gt=0, description="one webhook POST's time limit")
    webhook_max_attempts: int = Field(
        12, ge=1, description="attempts of one webhook delivery before it is failed"
    )
    webhook_retry_base_s: float = Field(
        30.0, gt=0, description="wait before a webhook's first retry; doubles each time"
    )
    webhook_retry_max_s: float = Field(
        6 * 3600.0, gt=0, description="longest wait between two attempts of a webhook delivery"
    )
    webhook_disable_after: int = Field(
        20, ge=1, description="consecutive failed attempts that disable a webhook subscription"
    )
    job_statement_timeout_s: float = Field(
        300.0, ge=0, description="PostgreSQL statement_timeout of a worker's connections (0: none)"
    )
    job_lock_timeout_s: float = Field(
        10.0, ge=0, description="PostgreSQL lock_timeout of a worker's connections (0: none)"
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip().rstrip("/") for o in value.split(",") if o.strip()]
        return value

    @model_validator(mode="after")
    def _production_needs_secret(self) -> Settings:
        if self.environment is Environment.PRODUCTION:
            key = self.secret_key.get_secret_value() if self.secret_key else ""
            if len(key) < 32:
                raise ValueError(
                    "TESSERA_SECRET_KEY must be set to at least 32 characters in production"
                )
        return self

    @property
    def development(self) -> bool:
        return self.environment is not Environment.PRODUCTION

    @property
    def webhooks_reach_private_networks(self) -> bool:
        if self.webhook_allow_private_networks is not None:
            return self.webhook_allow_private_networks
        return self.environment is Environment.DEVELOPMENT

    def secret(self) -> str:
        """The signing/encryption secret. Outside production it is generated once
        and kept under ``var_dir`` so tokens and encrypted config survive restarts."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        path = self.var_dir / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()
