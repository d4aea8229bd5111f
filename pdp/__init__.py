"""Policy decision point: evaluates Rego RBAC/ABAC policy over a directory of tenants."""

__version__ = "0.1.0"
