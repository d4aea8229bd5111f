"""The policy engine: compile and validate Rego in a child process, evaluate per thread.

The engine knows nothing about HTTP, the directory or bundle files: it takes a PolicySource
and answers queries.
"""

from pdp.engine.compiler import compile_policy
from pdp.engine.errors import CompileError, EngineError, EvaluationError, Problem
from pdp.engine.evaluator import UNDEFINED, Evaluator
from pdp.engine.source import CompiledPolicy, PolicySource, entrypoint_path
from pdp.engine.testing import RegoTestResult, run_rego_tests

__all__ = [
    "UNDEFINED",
    "CompileError",
    "CompiledPolicy",
    "EngineError",
    "EvaluationError",
    "Evaluator",
    "PolicySource",
    "Problem",
    "RegoTestResult",
    "compile_policy",
    "entrypoint_path",
    "run_rego_tests",
]
