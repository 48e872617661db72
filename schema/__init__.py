"""The GraphQL layer: one module per domain, composed here into one schema."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from tessera.config import Limits, Settings
from tessera.schema.assets import AssetsMutation, AssetsQuery
from tessera.schema.audit import AuditMutation
from tessera.schema.behaviour.mutations import BehaviourMutation
from tessera.schema.brand import BrandQuery
from tessera.schema.campaign_results import CampaignResultsQuery
from tessera.schema.campaigns import CampaignsMutation, CampaignsQuery
from tessera.schema.channels import ChannelsMutation, ChannelsQuery
from tessera.schema.checkout import CheckoutMutation
from tessera.schema.coupons import CouponsMutation, CouponsQuery
from tessera.schema.engine import (
    TesseraExecutionContext,
    plain_attribute_resolvers,
    planned_inputs,
    planned_variables,
)
from tessera.schema.errors import ErrorsInPayload, MaskUnexpectedErrors, log_client_errors
from tessera.schema.features import FeaturesMutation, FeaturesQuery
from tessera.schema.input_text import RefuseControlCharacters
from tessera.schema.limits import MAX_OF_TYPE_DEPTH, limit_extensions
from tessera.schema.members import MembersMutation, MembersQuery
from tessera.schema.members.personal import AuditPersonalReads
from tessera.schema.members.preload import serve_ready_fields
from tessera.schema.orders.money import SCALAR_OVERRIDES
from tessera.schema.orders.mutations import OrdersMutation
from tessera.schema.orders.queries import OrdersQuery
from tessera.schema.persons import PersonsQuery
from tessera.schema.privacy import PrivacyMutation, PrivacyQuery
from tessera.schema.reports import ReportsMutation, ReportsQuery
from tessera.schema.rewards import RewardsMutation, RewardsQuery
from tessera.schema.segments.root import SegmentStoreMutation, SegmentStoreQuery
from tessera.schema.segments.rules import SegmentRulesQuery
from tessera.schema.slots import SlotsMutation, SlotsQuery
from tessera.schema.tags import TagsMutation, TagsQuery
from tessera.schema.tiers import TiersMutation, TiersQuery
from tessera.schema.webhooks import WebhooksMutation, WebhooksQuery

QUERIES: tuple[type, ...] = (
    BrandQuery,
    FeaturesQuery,
    OrdersQuery,
    MembersQuery,
    TagsQuery,
    AssetsQuery,
    CouponsQuery,
    SegmentStoreQuery,
    SegmentRulesQuery,
    TiersQuery,
    RewardsQuery,
    WebhooksQuery,
    PrivacyQuery,
    PersonsQuery,
    SlotsQuery,
    ReportsQuery,
    CampaignResultsQuery,
    ChannelsQuery,
    CampaignsQuery,
)
MUTATIONS: tuple[type, ...] = (
    FeaturesMutation,
    OrdersMutation,
    CheckoutMutation,
    BehaviourMutation,
    MembersMutation,
    TagsMutation,
    AssetsMutation,
    CouponsMutation,
    SegmentStoreMutation,
    TiersMutation,
    RewardsMutation,
    WebhooksMutation,
    PrivacyMutation,
    SlotsMutation,
    ReportsMutation,
    ChannelsMutation,
    CampaignsMutation,
)


class Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        log_client_errors(errors, execution_context)


def limits_description(limits: Limits) -> str:
    return (
        "Tessera's GraphQL API. Limits on every document (introspection included): "
        f"depth {limits.max_depth} (code `QUERY_TOO_DEEP`), `ofType` nested at most "
        f"{MAX_OF_TYPE_DEPTH} deep inside introspection (code `INTROSPECTION_TOO_DEEP`; "
        "the standard introspection queries pass), "
        f"{limits.max_tokens} tokens (code `TOO_MANY_TOKENS`), "
        f"{limits.max_aliases} aliases (code `TOO_MANY_ALIASES`), "
        f"request body {limits.max_body_bytes} bytes, connection pages of at most "
        f"{limits.page_size}; batched (array) requests are refused. A document over a "
        "limit fails with a message naming the limit and `extensions.code` as above "
        "(HTTP 200 with `errors`); an oversized body is HTTP 413 with code "
        "`REQUEST_TOO_LARGE`; a body that is not a JSON object is HTTP 400 with code "
        "`BAD_REQUEST`."
    )


def build_schema(settings: Settings) -> strawberry.Schema:
    limits = settings.limits
    query = merge_types("Query", QUERIES)
    mutation = merge_types("Mutation", MUTATIONS)
    query.__strawberry_definition__.description = limits_description(limits)  # type: ignore[attr-defined]
    mutation.__strawberry_definition__.description = (  # type: ignore[attr-defined]
        "Every mutation takes one `input` and returns a payload with `errors: [UserError!]!`; "
        "a rejected input changes nothing. Every call is written to the brand's audit log."
    )
    for field in mutation.__strawberry_definition__.fields:  # type: ignore[attr-defined]
        # Field objects are shared by every merged root, so attach once only.
        # The first extension is the innermost: refusals become the payload
        # before any other extension, the audit last, sees the outcome.
        if not any(isinstance(e, AuditMutation) for e in field.extensions):
            field.extensions.insert(0, ErrorsInPayload())
            field.extensions.append(AuditMutation())
    for root, is_mutation in ((query, False), (mutation, True)):
        for field in root.__strawberry_definition__.fields:  # type: ignore[attr-defined]
            if field.arguments and not any(
                isinstance(e, RefuseControlCharacters) for e in field.extensions
            ):
                # Innermost of all: permissions are checked before it, its
                # refusal becomes the payload's errors, and the audit records it.
                field.extensions.insert(0, RefuseControlCharacters(mutation=is_mutation))
    schema = Schema(
        query=query,
        mutation=mutation,
        config=StrawberryConfig(disable_field_suggestions=not settings.development),
        scalar_overrides=SCALAR_OVERRIDES,
        execution_context_class=TesseraExecutionContext,
        extensions=[
            MaskUnexpectedErrors,
            AuditPersonalReads,
            lambda: ParserCache(maxsize=512),
            lambda: ValidationCache(maxsize=512),
            *limit_extensions(limits),
        ],
    )
    plain_attribute_resolvers(schema._schema)
    planned_inputs(schema)
    planned_variables(schema._schema)
    serve_ready_fields(schema._schema)
    return schema


def export_sdl(settings: Settings | None = None) -> str:
    """The SDL as published in ``schema/schema.graphql``, built with default limits
    so the file does not depend on the machine's environment."""
    from tessera.config import Environment

    settings = settings or Settings(environment=Environment.PRODUCTION, secret_key="x" * 32)
    return build_schema(settings).as_str() + "\n"
