"""Policy testing for authors and CI: `pdp test` (Rego tests and decision tables) and `pdp check`."""

from pdp.policytest.check import CheckResult, check_path
from pdp.policytest.results import Outcome, TestRun
from pdp.policytest.runner import run_tests

__all__ = ["CheckResult", "Outcome", "TestRun", "check_path", "run_tests"]
