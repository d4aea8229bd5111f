"""Reports of a test run: text for people, JSON for tools, JUnit XML for CI systems."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from pdp.policytest.results import Outcome, TestRun

_LABELS = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIPPED", "errored": "ERROR"}
# `opa test` closes its listing with this rule before the summary.
_RULE = "-" * 80


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _one_line(text: str) -> str:
    return " | ".join(part.strip() for part in text.splitlines() if part.strip())


def text_report(run: TestRun, *, verbose: bool = False) -> str:
    """The static check's warnings, one line per failure or error (every test with
    `verbose`, with its duration), then `opa test`'s summary lines (`PASS: 3/3`)."""
    lines = [f"WARNING {warning}" for warning in run.warnings]
    for outcome in run.outcomes:
        if outcome.status in ("passed", "skipped") and not verbose:
            continue
        where = f"{outcome.file}: " if outcome.kind in ("rego", "opa") else ""
        line = f"{_LABELS[outcome.status]} {where}{outcome.id}"
        if outcome.message:
            line += f": {_one_line(outcome.message)}"
        if verbose and outcome.status != "skipped":
            line += f" ({_duration(outcome.duration_seconds)})"
        lines.append(line)
    summary = run.summary()
    cross_check = run.cross_check()
    if cross_check is not None:
        lines.append(cross_check)
    if lines and summary:
        lines.append(_RULE)
    lines.extend(summary)
    return "".join(f"{line}\n" for line in lines)


def json_report(run: TestRun) -> str:
    return json.dumps(run.to_json(), indent=2) + "\n"


def _suites(run: TestRun) -> dict[str, list[Outcome]]:
    """JUnit suites by file: a Rego test file, a case file, or a file that did not compile."""
    suites: dict[str, list[Outcome]] = {}
    for outcome in run.outcomes:
        suites.setdefault(outcome.file, []).append(outcome)
    return suites


def _counts(element: ET.Element, outcomes: list[Outcome]) -> None:
    element.set("tests", str(len(outcomes)))
    element.set("failures", str(sum(o.status == "failed" for o in outcomes)))
    element.set("errors", str(sum(o.status == "errored" for o in outcomes)))
    element.set("skipped", str(sum(o.status == "skipped" for o in outcomes)))
    element.set("time", f"{sum(o.duration_seconds for o in outcomes):.6f}")


def junit_report(run: TestRun) -> str:
    """The JUnit XML most CI systems read: testsuites > testsuite (a file) > testcase."""
    root = ET.Element("testsuites", name="pdp test")
    _counts(root, run.outcomes)
    for file, outcomes in _suites(run).items():
        suite = ET.SubElement(root, "testsuite", name=file)
        _counts(suite, outcomes)
        for outcome in outcomes:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=outcome.suite,
                name=outcome.name,
                file=outcome.file,
                time=f"{outcome.duration_seconds:.6f}",
            )
            if outcome.status == "skipped":
                ET.SubElement(case, "skipped", message="todo test")
            elif outcome.status != "passed":
                tag = "failure" if outcome.status == "failed" else "error"
                detail = ET.SubElement(
                    case, tag, message=_one_line(outcome.message or tag), type=tag
                )
                detail.text = outcome.message
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


FORMATS = {"json": json_report, "junit": junit_report}
