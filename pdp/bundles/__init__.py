"""Policy bundles in OPA's format: reading and validating archives, loading, building, signing."""

from pdp.bundles.archive import (
    BundleFiles,
    BundleFormatError,
    Manifest,
    read_archive,
    source_from_files,
    write_archive,
)
from pdp.bundles.loader import load_policy_source

__all__ = [
    "BundleFiles",
    "BundleFormatError",
    "Manifest",
    "load_policy_source",
    "read_archive",
    "source_from_files",
    "write_archive",
]
