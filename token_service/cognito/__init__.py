"""Amazon Cognito's JSON API: its operations, error types and SigV4 verification."""
