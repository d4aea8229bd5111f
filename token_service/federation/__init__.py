"""Federation: partners' identity providers (OIDC, SAML) sign users in to a pool.

`providers` reads the registered providers, `linking` decides which pool user a partner
identity signs in as, `relay` carries a browser's state through its trip to the IdP.
"""
