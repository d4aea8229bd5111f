"""HTTP routers: OAuth 2.0 endpoints, the Cognito JSON API and the well-known documents."""
