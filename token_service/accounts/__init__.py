"""Self-service accounts: sign-up, password reset, attribute verification, and code delivery."""
