"""A lightweight issuer of Cognito-compatible JWTs (user pools, app clients, users, keys)."""
