"""Orders, refunds and members' purchase statistics over GraphQL."""
