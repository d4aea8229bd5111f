"""Publishing runs the static scan first: a bundle whose tests mock with a rule is refused."""

from __future__ import annotations

import pytest

from pdp.bundles.publish import BundleRejected
from tests.pdp import test_bundle_publish
from tests.pdp.test_bundle_publish import TINY_TEST, Env, archive

env = test_bundle_publish.env  # the same fixture: a bundle service over a fresh store

# regopy ignores `with ... as <rule>`: this test would pass there whatever the policy says.
VACUOUS_TEST = """package authz_test

import rego.v1

reader_action := "document:delete"

test_a_reader_may_not_delete if {
	not data.authz.decision.allow with input.action as reader_action
}
"""


def test_a_with_rule_test_refuses_the_bundle(env: Env) -> None:
    with pytest.raises(BundleRejected) as info:
        env.service.publish("main", archive("r1", test=VACUOUS_TEST), "ci")
    assert info.value.code == "bundle_refused"
    assert "authz/policy_test.rego:8:32: `with input.action as reader_action`" in info.value.message
    assert env.stored() == []


def test_the_bound_rewrite_is_published(env: Env) -> None:
    bound = VACUOUS_TEST.replace(
        "\tnot data.authz.decision.allow with input.action as reader_action",
        "\taction := reader_action\n\tnot data.authz.decision.allow with input.action as action",
    )
    assert env.service.publish("main", archive("r1", test=bound), "ci").created
    assert env.service.publish("main", archive("r2", test=TINY_TEST), "ci").created
