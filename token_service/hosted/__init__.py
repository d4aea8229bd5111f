"""Browser sign-in: the OpenID provider's authorization endpoint, the hosted login pages'
services, authorization codes and the hosted session (Cognito's managed login, shaped alike)."""
