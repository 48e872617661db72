"""Admin users of the web UI: argon2 password hashes, roles per brand (each
mapped to the API scopes GraphQL checks), and sign-in throttling that holds
across processes because refusals are rows in the database."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email

from tessera.auth.models import AdminLoginFailure, AdminRole, AdminUser
from tessera.auth.scopes import Scope, expand
from tessera.errors import DomainError
from tessera.scope import BrandScope
from tessera.tenancy.models import Brand, Tenant
from tessera.uow import unit_of_work

MIN_PASSWORD_LENGTH = 10
# Five wrong passwords for one email from one address lock that pair out for
# the rest of the window; a right password clears the count.
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)

_hasher = PasswordHasher()


class Role(StrEnum):
    OWNER = "owner"
    OPERATOR = "operator"
    ANALYST = "analyst"
    VIEWER = "viewer"


# The same scopes an API key holds, so a role may do in the UI exactly what a
# key with these scopes may do through GraphQL.
ROLE_SCOPES: dict[Role, list[str]] = {
    Role.OWNER: [Scope.ADMIN.value, Scope.PII.value],
    Role.OPERATOR: [Scope.MANAGE.value],
    Role.ANALYST: [Scope.READ.value],
    Role.VIEWER: [Scope.READ.value],
}


@dataclass(frozen=True)
class BrandRole:
    brand: Brand
    role: Role
    scopes: frozenset[Scope]


class Throttled(Exception):
    """Too many refused sign-ins for this email from this address."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(
            "INVALID",
            f"the password needs at least {MIN_PASSWORD_LENGTH} characters",
            ["password"],
        )


def _normalise_email(email: str) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise DomainError("INVALID", str(error), ["email"]) from error


def _role(name: str) -> Role:
    try:
        return Role(name)
    except ValueError:
        raise DomainError(
            "INVALID", "the role is one of owner, operator, analyst or viewer", ["role"]
        ) from None


async def create_admin_user(tenant: Tenant, email: str, password: str, name: str = "") -> AdminUser:
    address = _normalise_email(email)
    _check_password(password)
    if await AdminUser.filter(email=address).exists():
        raise DomainError("DUPLICATE", f"an admin user {address} exists", ["email"])
    return await AdminUser.create(
        tenant=tenant, email=address, name=name, password_hash=hash_password(password)
    )


async def set_password(user: AdminUser, password: str) -> None:
    _check_password(password)
    user.password_hash = hash_password(password)
    await user.save(update_fields=["password_hash"])


async def grant_role(scope: BrandScope, user: AdminUser, role: str) -> AdminRole:
    """Give ``user`` ``role`` in the scope's brand (replacing the role held)."""
    wanted = _role(role)
    if user.tenant_id != scope.brand.tenant_id:
        raise DomainError("NOT_FOUND", "no such admin user in this tenant", ["adminUser"])
    scopes = ROLE_SCOPES[wanted]
    existing = await scope.query(AdminRole).filter(admin_user_id=user.id).first()
    if existing is None:
        return await scope.create(AdminRole, admin_user=user, role=wanted.value, scopes=scopes)
    await scope.query(AdminRole).filter(id=existing.id).update(role=wanted.value, scopes=scopes)
    existing.role, existing.scopes = wanted.value, scopes
    return existing


@dataclass(frozen=True)
class AddedAdmin:
    user: AdminUser
    role: AdminRole
    created: bool
    # The generated password of a new user, to be shown once; None when the
    # caller gave one or the user existed.
    password: str | None


async def add_admin_user(
    scope: BrandScope, email: str, role: str, *, password: str | None = None, name: str = ""
) -> AddedAdmin:
    """Give the admin user with ``email`` ``role`` on the scope's brand,
    creating the user first — with ``password``, else a generated one — when
    there is none. What `tessera create-admin-user` and the admin users page do."""
    wanted = _role(role)
    address = _normalise_email(email)
    async with unit_of_work(scope):
        user = await AdminUser.get_or_none(email=address)
        shown = None
        if user is None:
            if password is None:
                password = shown = secrets.token_urlsafe(12)
            tenant = await Tenant.get(id=scope.brand.tenant_id)
            user = await create_admin_user(tenant, address, password, name)
            created = True
        elif user.tenant_id != scope.brand.tenant_id:
            # Emails are unique across tenants, so this one cannot be used here.
            raise DomainError(
                "DUPLICATE", f"{address} is an admin user of another tenant", ["email"]
            )
        else:
            created = False
        granted = await grant_role(scope, user, wanted.value)
    return AddedAdmin(user, granted, created, shown)


async def admin_roles(scope: BrandScope) -> list[tuple[AdminRole, AdminUser]]:
    """The brand's admin users with their role here, by email."""
    rows = await scope.query(AdminRole).select_related("admin_user")
    return sorted(((r, r.admin_user) for r in rows), key=lambda pair: pair[1].email)


async def _held(scope: BrandScope, admin_user_id: int) -> AdminRole:
    held = await scope.query(AdminRole).filter(admin_user_id=admin_user_id).first()
    if held is None:
        raise DomainError("NOT_FOUND", "no such admin user on this brand", ["adminUser"])
    return held


async def _keep_an_owner(scope: BrandScope, held: AdminRole) -> None:
    """Refuse taking the owner role from the brand's last owner: nobody could
    manage its users and keys any more. The owner rows are locked (PostgreSQL)
    so two owners demoting each other at once cannot both pass."""
    if held.role != Role.OWNER.value:
        return
    owners = (
        await scope.query(AdminRole)
        .filter(role=Role.OWNER.value)
        .select_for_update()
        .values_list("id", flat=True)
    )
    if set(owners) <= {held.id}:
        raise DomainError(
            "LAST_OWNER",
            "the brand needs an owner: make someone else owner first",
            ["role"],
        )


async def change_role(scope: BrandScope, admin_user_id: int, role: str) -> AdminRole:
    """Change the role an admin user holds on the scope's brand (never the
    brand's last owner to another role)."""
    wanted = _role(role)
    async with unit_of_work(scope):
        held = await _held(scope, admin_user_id)
        if wanted != Role.OWNER:
            await _keep_an_owner(scope, held)
        user = await AdminUser.get(id=admin_user_id)
        return await grant_role(scope, user, wanted.value)


async def remove_role(scope: BrandScope, admin_user_id: int) -> AdminUser:
    """Take away the role an admin user holds on the scope's brand (never the
    brand's last owner's); the user keeps their roles on other brands."""
    async with unit_of_work(scope):
        held = await _held(scope, admin_user_id)
        await _keep_an_owner(scope, held)
        await scope.query(AdminRole).filter(id=held.id).delete()
        return await AdminUser.get(id=admin_user_id)


async def roles_of(user: AdminUser) -> list[BrandRole]:
    """Every brand ``user`` holds a role on, by brand name. An owner of every
    brand of the tenant (the tenant owner) also holds the ``persons`` scope,
    in each: tenant-wide reads (docs/persons.md)."""
    rows = await AdminRole.filter(admin_user_id=user.id).select_related("brand")
    roles = [
        BrandRole(row.brand, Role(row.role), expand(ROLE_SCOPES[Role(row.role)])) for row in rows
    ]
    tenant = user.tenant_id
    owned = {r.brand.id for r in roles if r.role is Role.OWNER and r.brand.tenant_id == tenant}
    brands: list[int] = await Brand.filter(tenant_id=tenant).values_list("id", flat=True)  # type: ignore[assignment]
    if owned and owned == set(brands):
        roles = [
            replace(r, scopes=r.scopes | {Scope.PERSONS}) if r.brand.tenant_id == tenant else r
            for r in roles
        ]
    return sorted(roles, key=lambda r: (r.brand.name, r.brand.id))


async def sign_in(
    email: str, password: str, ip: str, now: datetime | None = None
) -> AdminUser | None:
    """The active user with this email and password, or None. Raises
    :class:`Throttled` (before checking the password) after too many refusals."""
    now = now or datetime.now(UTC)
    address = email.strip().lower()[:254]
    failures = await AdminLoginFailure.filter(
        email=address, ip=ip, created_at__gte=now - FAILURE_WINDOW
    ).count()
    if failures >= MAX_FAILURES:
        raise Throttled
    user = await AdminUser.get_or_none(email=address, is_active=True)
    if user is None or not _verified(user, password):
        await AdminLoginFailure.create(email=address, ip=ip)
        return None
    await AdminLoginFailure.filter(email=address, ip=ip).delete()
    await AdminUser.filter(id=user.id).update(last_login_at=now)
    if _hasher.check_needs_rehash(user.password_hash):
        await set_password(user, password)
    return user


def _verified(user: AdminUser, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
