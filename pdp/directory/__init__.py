"""The directory: the PDP's policy information point (tenants, subjects, groups, companies, roles)."""
