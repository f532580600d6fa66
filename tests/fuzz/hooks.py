"""Loaded by Schemathesis (SCHEMATHESIS_HOOKS) for tests/tests/fuzz.rs.

CPython 3.11.7 (this machine's Python) can raise `SystemError: AST constructor
recursion depth mismatch` from `ast.parse` when Hypothesis parses a module's source
to name a filter lambda in a strategy's repr (CPython gh-106905, fixed in later
3.11 releases). The repr is only a label: when that parse fails, the lambda is
described as unknown and generation goes on; nothing about what is sent changes.
"""

import hypothesis.internal.lambda_sources as _sources

_describe = _sources._lambda_description


def _lambda_description(f, *args, **kwargs):
    try:
        return _describe(f, *args, **kwargs)
    except SystemError:
        return "lambda: <unknown>"


_sources._lambda_description = _lambda_description
