"""Policy bundles: loading a policy source from a directory or an OPA bundle file."""

from pdp.bundles.loader import BundleFormatError, load_policy_source

__all__ = ["BundleFormatError", "load_policy_source"]
