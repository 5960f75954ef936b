"""The public surface: ``__all__``, ``py.typed`` and the ``_diffid.pyi`` stub against the module."""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import pathlib

import pytest

import diffid
import diffid._diffid as native

PKG_DIR = pathlib.Path(diffid.__file__).resolve().parent
STUB = PKG_DIR / "_diffid.pyi"


def _stub_tree() -> ast.Module:
    return ast.parse(STUB.read_text(encoding="utf-8"), filename=str(STUB))


def _stub_classes() -> dict[str, ast.ClassDef]:
    return {n.name: n for n in _stub_tree().body if isinstance(n, ast.ClassDef)}


def _stub_functions() -> dict[str, ast.FunctionDef]:
    return {n.name: n for n in _stub_tree().body if isinstance(n, ast.FunctionDef)}


def _stub_variables() -> set[str]:
    names = set()
    for n in _stub_tree().body:
        if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name):
            names.add(n.target.id)
        elif isinstance(n, ast.Assign):
            names.update(t.id for t in n.targets if isinstance(t, ast.Name))
    return names


def _runtime_public() -> dict[str, object]:
    return {n: getattr(native, n) for n in dir(native) if not n.startswith("_")}


def _is_property(fn: ast.FunctionDef) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "property" for d in fn.decorator_list)


def _stub_params(fn: ast.FunctionDef) -> list[tuple[str, bool]]:
    """(name, has_default) of the stub's parameters, without self."""
    args = fn.args
    positional = args.posonlyargs + args.args
    defaults = [False] * (len(positional) - len(args.defaults)) + [True] * len(args.defaults)
    out = list(zip((a.arg for a in positional), defaults))
    out += [(a.arg, d is not None) for a, d in zip(args.kwonlyargs, args.kw_defaults)]
    return [p for p in out if p[0] != "self"]


def _runtime_params(obj) -> list[tuple[str, bool]] | None:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    params = [
        (p.name, p.default is not inspect.Parameter.empty)
        for p in sig.parameters.values()
        if p.name != "self"
    ]
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in sig.parameters.values()):
        return None  # e.g. a slot wrapper's (*args, **kwargs): nothing to compare
    return params


# ---------------------------------------------------------------------------------------------


def test_stub_exists_and_parses():
    assert STUB.is_file()
    _stub_tree()


def test_every_runtime_public_name_is_in_the_stub():
    stubbed = set(_stub_classes()) | set(_stub_functions()) | _stub_variables()
    missing = sorted(set(_runtime_public()) - stubbed)
    assert not missing, f"in diffid._diffid but not in _diffid.pyi: {missing}"


def test_every_stub_name_exists_at_runtime():
    for name in _stub_classes():
        assert isinstance(getattr(native, name, None), type), name
    for name in _stub_functions():
        assert callable(getattr(native, name, None)), name
    for name in _stub_variables():
        assert hasattr(native, name), name


def test_version_is_a_string():
    assert isinstance(native.__version__, str) and native.__version__
    assert diffid.__version__ == native.__version__


@pytest.mark.parametrize("cls_name", sorted(_stub_classes()))
def test_stub_class_bases_match(cls_name):
    node = _stub_classes()[cls_name]
    runtime = getattr(native, cls_name)
    for base in node.bases:
        assert isinstance(base, ast.Name)
        base_cls = getattr(native, base.id, None) or getattr(builtins, base.id)
        assert issubclass(runtime, base_cls), f"{cls_name} is not a subclass of {base.id}"


@pytest.mark.parametrize("cls_name", sorted(_stub_classes()))
def test_stub_methods_exist_on_runtime_class(cls_name):
    node = _stub_classes()[cls_name]
    runtime = getattr(native, cls_name)
    for item in node.body:
        if not isinstance(item, ast.FunctionDef):
            continue
        assert hasattr(runtime, item.name), f"{cls_name}.{item.name} is in the stub only"
        attr = inspect.getattr_static(runtime, item.name)
        if _is_property(item):
            assert inspect.isdatadescriptor(attr), f"{cls_name}.{item.name} is not a property"
        elif item.name != "__init__":
            assert callable(attr), f"{cls_name}.{item.name} is not callable"


@pytest.mark.parametrize("cls_name", sorted(_stub_classes()))
def test_stub_signatures_match_runtime(cls_name):
    node = _stub_classes()[cls_name]
    runtime = getattr(native, cls_name)
    for item in node.body:
        if not isinstance(item, ast.FunctionDef) or _is_property(item):
            continue
        if item.name == "__init__":
            actual = _runtime_params(runtime)
        else:
            actual = _runtime_params(getattr(runtime, item.name))
        if actual is None:
            continue
        if any(isinstance(d, ast.Name) and d.id == "overload" for d in item.decorator_list):
            # An overload narrows the types (and may drop a default, e.g. `starts: int`): the
            # parameter names must still match the runtime's, in order.
            assert [n for n, _ in _stub_params(item)] == [n for n, _ in actual], f"{cls_name}.{item.name}"
            continue
        assert _stub_params(item) == actual, f"{cls_name}.{item.name}"


@pytest.mark.parametrize("cls_name", sorted(_stub_classes()))
def test_runtime_public_members_are_in_the_stub(cls_name):
    node = _stub_classes()[cls_name]
    stubbed = {item.name for item in node.body if isinstance(item, ast.FunctionDef)}
    runtime = getattr(native, cls_name)
    own = {n for n in vars(runtime) if not n.startswith("_")}
    missing = sorted(own - stubbed)
    assert not missing, f"{cls_name} members not in the stub: {missing}"


# ---------------------------------------------------------------------------------------------


def _public_names(module) -> set[str]:
    return {n for n in dir(module) if not n.startswith("_")}


def test_all_lists_exactly_the_public_names():
    assert len(diffid.__all__) == len(set(diffid.__all__)), "duplicates in __all__"
    expected = _public_names(diffid) | {"__version__"}
    assert set(diffid.__all__) == expected


def test_all_names_are_importable():
    ns: dict = {}
    exec("from diffid import *", ns)
    for name in diffid.__all__:
        assert hasattr(diffid, name), name
        assert name in ns, name
        mod = importlib.import_module("diffid")
        assert getattr(mod, name) is ns[name]


def test_every_native_public_name_is_exported():
    missing = sorted(_public_names(native) - set(diffid.__all__))
    assert not missing, missing
    for name in _public_names(native):
        assert getattr(diffid, name) is getattr(native, name)


def test_py_typed_is_installed():
    assert (PKG_DIR / "py.typed").is_file()

