"""User sign-in beyond the first password check: challenges, SRP and second factors."""
