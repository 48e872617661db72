"""Every machine-readable error code the API can return, with what it means.

This is the one place a code is declared: the GraphQL enum ``UserErrorCode``
is built from it, and ``tests/schema/test_error_codes.py`` fails when any
module raises a code that is missing here. A new code is one line below.
"""

from __future__ import annotations

ERROR_CODES: dict[str, str] = {
    # Input shape
    "INVALID": "A value is malformed or not allowed here; the message says why.",
    "REQUIRED": "A value that must be given is missing or empty.",
    "TOO_LONG": "A text is longer than its limit.",
    "INVALID_CHARACTERS": "A text holds control characters (only tab and line breaks are allowed).",
    "TOO_MANY": "A list has more items than its limit.",
    "TOO_DEEP": "A segment rule nests deeper than its limit.",
    "OUT_OF_RANGE": "A number is outside its allowed range.",
    "INVALID_AMOUNT": "An amount is not a valid sum of money in the brand's currency.",
    "NEGATIVE_AMOUNT": "An amount is below zero where it cannot be.",
    "WRONG_CURRENCY": "An amount is in another currency than the brand's.",
    "INVALID_TIME": "A time has no UTC offset or lies in the future.",
    "INVALID_QUANTITY": "An order line's quantity is below one.",
    "INVALID_TYPE": "An event type is not 1-64 lower-case letters, digits, '_' or '.'.",
    "INVALID_PROPERTIES": "An event's properties are not a JSON object within the size limit.",
    "INVALID_CSV": "An uploaded CSV cannot be read.",
    "INVALID_CONFIG": "A component's config does not match its JSON Schema.",
    "INVALID_ATTRIBUTE": "A custom attribute's value does not match its definition.",
    "INVALID_IDENTITY": "An identity's value is not valid for its kind.",
    "INVALID_PHONE": "A phone number cannot be read.",
    "INVALID_EMAIL": "An email address cannot be read.",
    "INVALID_STATUS": "The member's status does not allow this change.",
    "BATCH_TOO_LARGE": "A batch has more items than its limit; nothing was done.",
    # Lookups and uniqueness
    "NOT_FOUND": "The object named does not exist in this brand.",
    "UNKNOWN_MEMBER": "No member of this brand has the given id or identity.",
    "UNKNOWN_TAG": "No tag of this brand has the given code.",
    "UNKNOWN_TIER": "No tier of this brand has the given code.",
    "UNKNOWN_ATTRIBUTE": "No custom attribute of this brand has the given key.",
    "DUPLICATE": "Another object already has this unique value.",
    "DUPLICATE_IDENTITY": "Another member already has this identity.",
    "CONFLICT": "Another change got there first; read again and retry.",
    "IDEMPOTENCY_CONFLICT": "The idempotency key or external id was used with other details.",
    "IN_USE": "Something still depends on this object, so it cannot go.",
    "CYCLE": "A segment would contain itself.",
    # Members
    "IDENTITY_REQUIRED": "A member needs at least one identity.",
    "LAST_IDENTITY": "A member's last identity cannot be removed.",
    "CARD_REQUIRED": "A member keeps a card number once they have joined.",
    "MEMBER_INACTIVE": "The member is frozen, cancelled or has not joined.",
    "FORBIDDEN": "The caller may not do this (scope or member token).",
    # Points, stored value and orders
    "INSUFFICIENT_POINTS": "The member has fewer points than asked for.",
    "INSUFFICIENT_BALANCE": "The member's stored value is less than asked for.",
    "EXCEEDS_EARNED": "A reversal is larger than what the source earned.",
    "REFUND_EXCEEDS_PAID": "A refund is larger than what is left of the order.",
    "NOTHING_TO_REFUND": "The order has nothing left to refund.",
    "REDEMPTION_DISABLED": "The brand does not let points pay for orders.",
    "BELOW_MINIMUM": "Too few points to redeem, or an order too small for points.",
    "EXCEEDS_ORDER_SHARE": "Points would pay more of the order than the brand allows.",
    "AMOUNT_TOO_LARGE": "One entry would move more than the documented maximum.",
    "BALANCE_LIMIT": "The account would hold more than the documented maximum balance.",
    # Checkout holds
    "COUPON_HELD": "The coupon is reserved by an open checkout hold.",
    "HOLD_CONFIRMED": "The hold was already confirmed by an order.",
    "HOLD_RELEASED": "The hold was already released.",
    "HOLD_EXPIRED": "The hold expired; its points and coupons went back.",
    # Coupons
    "OUT_OF_STOCK": "The coupon template has no coupons left to issue.",
    "OVER_MEMBER_LIMIT": "The member already holds as many of these coupons as allowed.",
    "TEMPLATE_INACTIVE": "The coupon template is switched off.",
    "TEMPLATE_EXPIRED": "The coupon template's issuing window is over.",
    "TEMPLATE_IN_USE": "Coupons were issued from the template, so it cannot be deleted.",
    "STOCK_BELOW_ISSUED": "The stock would be below what was already issued.",
    "COUPON_REDEEMED": "The coupon was already used.",
    "COUPON_VOIDED": "The coupon was voided.",
    "COUPON_EXPIRED": "The coupon's validity is over.",
    "COUPON_NOT_YET_VALID": "The coupon's validity has not started.",
    "BELOW_MINIMUM_SPEND": "The order is smaller than the coupon's minimum spend.",
    "NOT_APPLICABLE": "The coupon does not apply to the order's categories.",
    # Rewards, tiers, segments, features
    "REWARD_RULE_FAILED": "A points rule failed, so the fact was not recorded; retry later.",
    "ALREADY_REFERRED": "The member was already referred by someone.",
    "TIER_IN_USE": "Members hold or have held the tier, so it cannot be deleted.",
    "TIER_POLICY_REQUIRED": "Exactly one tier policy must stay enabled.",
    "STATIC_SEGMENT": "The operation needs a dynamic segment.",
    "DYNAMIC_SEGMENT": "The operation needs a static segment.",
    "NO_RULE": "The tag has no rule to apply.",
    # Request-level (GraphQL `extensions.code`)
    "BAD_REQUEST": "The request is malformed.",
    "BAD_CURSOR": "A cursor was not given out by this list.",
    "UNAUTHENTICATED": "The credentials are missing, unknown or expired (HTTP 401).",
    "QUERY_TOO_DEEP": "The document nests deeper than the depth limit.",
    "INTROSPECTION_TOO_DEEP": "An introspection `ofType` chain is deeper than its limit.",
    "TOO_MANY_TOKENS": "The document has more tokens than the limit.",
    "TOO_MANY_ALIASES": "The document has more aliases than the limit.",
    "REQUEST_TOO_LARGE": "The request body is larger than the limit (HTTP 413).",
    "INTERNAL_SERVER_ERROR": "An unexpected failure; the request id finds it in the logs.",
}
