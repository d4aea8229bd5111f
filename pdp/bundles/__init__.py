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
from pdp.bundles.signing import (
    SignatureError,
    SignatureStatus,
    bundle_digest,
    file_digest,
    sign_files,
    verify_files,
)

__all__ = [
    "BundleFiles",
    "BundleFormatError",
    "Manifest",
    "SignatureError",
    "SignatureStatus",
    "bundle_digest",
    "file_digest",
    "load_policy_source",
    "read_archive",
    "sign_files",
    "source_from_files",
    "verify_files",
    "write_archive",
]
