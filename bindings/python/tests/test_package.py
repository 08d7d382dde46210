"""The installed wheel: typed, abi3, the stub matches the extension."""

from __future__ import annotations

import ast
import pathlib
from importlib import metadata

import stepca
from stepca import _stepca


def test_wheel_is_typed_and_abi3() -> None:
    files = {str(f) for f in metadata.files("stepca") or ()}
    assert "stepca/py.typed" in files
    assert "stepca/_stepca.pyi" in files
    assert any(f.startswith("stepca/_stepca.abi3.") for f in files), files
    wheel = metadata.distribution("stepca").read_text("WHEEL") or ""
    assert "cp39-abi3" in wheel


def test_stub_matches_the_module() -> None:
    stub = pathlib.Path(_stepca.__file__).with_name("_stepca.pyi")
    tree = ast.parse(stub.read_text())
    stubbed = {n.name for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
    public = {n for n in dir(_stepca) if not n.startswith("_")}
    assert stubbed == public
    for cls in tree.body:
        if isinstance(cls, ast.ClassDef):
            methods = {n.name for n in cls.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("__")}
            actual = {n for n in dir(getattr(_stepca, cls.name)) if not n.startswith("_")}
            assert methods == actual, cls.name


def test_exception_hierarchy() -> None:
    e = stepca.errors
    assert issubclass(e.CaRejected, e.StepCaError)
    assert issubclass(e.TlsError, e.TransportError) and issubclass(e.TransportError, ConnectionError)
    assert issubclass(e.InvalidArgument, ValueError)
    assert issubclass(e.TokenError, e.StepCaError)
    assert stepca.CaRejected is e.CaRejected
