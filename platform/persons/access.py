"""Who may read persons: tenant-wide rights (docs/persons.md, "Who sees persons")."""

from __future__ import annotations

from tessera.auth.admin_users import Role
from tessera.auth.models import AdminRole, AdminUser
from tessera.tenancy.models import Brand


async def is_tenant_owner(user: AdminUser) -> bool:
    """Whether ``user`` owns every brand of its tenant: the admin users who
    may read persons and issue keys with the ``persons`` scope. A brand added
    later needs the owner role there too before persons show again, so a new
    brand's data is never shown to someone it was not given to."""
    brands = set(await Brand.filter(tenant_id=user.tenant_id).values_list("id", flat=True))
    if not brands or not user.is_active:
        return False
    owned = set(
        await AdminRole.filter(admin_user_id=user.id, role=Role.OWNER.value).values_list(
            "brand_id", flat=True
        )
    )
    return brands <= owned
