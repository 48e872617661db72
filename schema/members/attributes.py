"""Custom attribute definitions: each brand's own member fields."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from tessera.members import attributes as service
from tessera.members.attributes import AttributeType, DefinitionValues
from tessera.members.models import AttributeDefinition as DefinitionModel
from tessera.schema.errors import UserError
from tessera.schema.ids import encode_id
from tessera.schema.permissions import CanManage, CanRead

strawberry.enum(
    AttributeType,
    description="Type of a custom attribute's values: STRING, NUMBER, BOOLEAN, DATE "
    "(`YYYY-MM-DD`) or ENUM (one of `allowedValues`).",
)


@strawberry.type(
    description="A custom member attribute the brand defined; `Member.attributes` "
    "holds the values, checked against it on every write."
)
class AttributeDefinition:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    key: str = strawberry.field(description="Key in `Member.attributes`; fixed once created.")
    type: AttributeType = strawberry.field(description="Type of its values; fixed once created.")
    label: str = strawberry.field(description="Display label.")
    description: str = strawberry.field(description="What it records.")
    required: bool = strawberry.field(description="Every member must have a value.")
    allowed_values: list[str] = strawberry.field(description="For ENUM: the values allowed.")
    updated_at: datetime = strawberry.field(description="Last change.")

    @classmethod
    def from_model(cls, d: DefinitionModel) -> AttributeDefinition:
        return cls(
            id=strawberry.ID(encode_id("AttributeDefinition", d.id)),
            key=d.key,
            type=AttributeType(d.type),
            label=d.label,
            description=d.description,
            required=d.required,
            allowed_values=list(d.allowed_values),
            updated_at=d.updated_at,
        )


@strawberry.input(description="A new custom attribute.")
class CreateAttributeDefinitionInput:
    key: str = strawberry.field(
        description="1-64 lower-case letters, digits or `_`, from a letter."
    )
    type: AttributeType = strawberry.field(description="Type of its values.")
    label: str = strawberry.field(default="", description="Display label.")
    description: str = strawberry.field(default="", description="What it records.")
    required: bool = strawberry.field(default=False, description="Every member must have a value.")
    allowed_values: list[str] | None = strawberry.field(
        default=None, description="For ENUM: allowed values."
    )


@strawberry.input(
    description="Changes to a custom attribute; omitted fields stay. Key and type are fixed."
)
class UpdateAttributeDefinitionInput:
    key: str = strawberry.field(description="The attribute.")
    label: str | None = strawberry.field(default=None, description="Display label.")
    description: str | None = strawberry.field(default=None, description="What it records.")
    required: bool | None = strawberry.field(
        default=None, description="Every member must have a value."
    )
    allowed_values: list[str] | None = strawberry.field(
        default=None, description="For ENUM: allowed values."
    )


@strawberry.input(
    description="The custom attribute to delete; every member's value for it goes too."
)
class DeleteAttributeDefinitionInput:
    key: str = strawberry.field(description="The attribute.")


@strawberry.type(description="Result of creating or changing a custom attribute.")
class AttributeDefinitionPayload:
    attribute_definition: AttributeDefinition | None = strawberry.field(
        default=None, description="As now stored."
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


@strawberry.type(description="Result of deleting a custom attribute.")
class DeleteAttributeDefinitionPayload:
    deleted_key: str | None = strawberry.field(
        default=None, description="Key of the deleted attribute."
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was changed.")


@strawberry.type
class AttributeDefinitionQuery:
    @strawberry.field(
        description="The brand's custom member attributes, by key.", permission_classes=[CanRead]
    )
    async def attribute_definitions(self, info: Info) -> list[AttributeDefinition]:
        rows = await service.list_definitions(info.context.scope)
        return [AttributeDefinition.from_model(d) for d in rows]


@strawberry.type
class AttributeDefinitionMutation:
    @strawberry.mutation(
        description=f"Define a custom member attribute (at most {service.MAX_DEFINITIONS} per "
        "brand). Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def create_attribute_definition(
        self, info: Info, input: CreateAttributeDefinitionInput
    ) -> AttributeDefinitionPayload:
        values = DefinitionValues(
            input.label, input.description, input.required, input.allowed_values
        )
        found = await service.create_definition(info.context.scope, input.key, input.type, values)
        return AttributeDefinitionPayload(
            attribute_definition=AttributeDefinition.from_model(found), errors=[]
        )

    @strawberry.mutation(
        description="Change a custom attribute's label, description, required flag or allowed "
        "values. Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def update_attribute_definition(
        self, info: Info, input: UpdateAttributeDefinitionInput
    ) -> AttributeDefinitionPayload:
        values = DefinitionValues(
            input.label, input.description, input.required, input.allowed_values
        )
        found = await service.update_definition(info.context.scope, input.key, values)
        return AttributeDefinitionPayload(
            attribute_definition=AttributeDefinition.from_model(found), errors=[]
        )

    @strawberry.mutation(
        description="Delete a custom attribute and every member's value for it. "
        "Needs the manage scope.",
        permission_classes=[CanManage],
    )
    async def delete_attribute_definition(
        self, info: Info, input: DeleteAttributeDefinitionInput
    ) -> DeleteAttributeDefinitionPayload:
        await service.delete_definition(info.context.scope, input.key)
        return DeleteAttributeDefinitionPayload(deleted_key=input.key, errors=[])
