"""The policy playground: a policy text and an input, evaluated apart from the served bundle."""

from pdp.playground.evaluate import PlaygroundRequest, PlaygroundResult, evaluate

__all__ = ["PlaygroundRequest", "PlaygroundResult", "evaluate"]
