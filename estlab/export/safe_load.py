"""The allow-list reader of ``model.pt2``: checked *before* ``torch.export.load`` sees the file.

``torch.export.load`` trusts its archive: a constant named ``opaque_obj_*`` goes to ``pickle.loads``, a
``custom_obj_*`` to TorchScript's unpickler, every ``expr_str`` to ``sympy.sympify`` (which evaluates
Python), the ``guards_code`` strings are ``exec``'d into the module's guard function, a pytree spec may
name a module for ``importlib.import_module`` (an enum or a ``defaultdict`` factory), and a graph node may
call any attribute of ``torch``, ``operator`` or ``math`` (``torch.ops.import_module``, ``torch.load``...).
:func:`check_pt2` reads the archive with :mod:`zipfile` and :mod:`json` only (every member's CRC checked) and
refuses all of that: only known member names, tensor payloads without pickle, symbolic expressions,
guards and specs of a small grammar checked with :mod:`ast` (never evaluated), and node targets from
the ATen/prims operator sets and a few arithmetic helpers. A refusal is an :class:`UnsafeExportError`
naming the file, the member and the field.

Examples
--------
>>> check_sym_expr("Symbol('s16', positive=True, integer=True)", "expr_str")
>>> check_sym_expr("__import__('os').system('true')", "expr_str")  # doctest: +ELLIPSIS
Traceback (most recent call last):
estlab.export.safe_load.UnsafeExportError: expr_str: ...
"""

from __future__ import annotations

import ast
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: the largest JSON member read (the serialized graph of a large model is a few MB)
MAX_JSON_BYTES = 256 * 1024 * 1024
#: the longest symbolic expression / guard accepted
MAX_EXPR_CHARS = 4000


class UnsafeExportError(ValueError):
    """A file of an export or checkpoint holds something loading would have to execute, or is damaged."""


_SYMBOL = re.compile(r"^[a-z]{1,4}\d{1,9}$")
_MEMBER_NAME = re.compile(r"^(?!\.\.?$)[A-Za-z0-9_.][A-Za-z0-9_.-]{0,200}$")

# sympy names an expr_str may call; the power-like ones are left out (a huge exponent never finishes)
_SYM_FUNCTIONS = frozenset({
    "Symbol", "Integer", "Float", "Rational", "Add", "Mul", "Max", "Min", "Abs", "Eq", "Ne", "Lt", "Le",
    "Gt", "Ge", "And", "Or", "Not", "floor", "ceiling", "FloorDiv", "ModularIndexing", "Where", "PythonMod",
    "Mod", "CleanDiv", "CeilToInt", "FloorToInt", "CeilDiv", "IntTrueDiv", "FloatTrueDiv", "TruncToFloat",
    "TruncToInt", "RoundToInt", "RoundDecimal", "ToFloat", "Identity", "IsNonOverlappingAndDenseIndicator",
})
_SYMBOL_ASSUMPTIONS = frozenset({
    "positive", "negative", "integer", "nonnegative", "nonpositive", "real", "finite", "nonzero", "zero",
})
_SYM_NAMES = frozenset({"oo", "zoo", "nan", "true", "false"})
_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod)
_UNARY = (ast.USub, ast.UAdd, ast.Not)
_COMPARE = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE)

# guards: L['features']['age'].size()[0] == L['features']['color'].size()[0] and the like
_GUARD_METHODS = frozenset({"size", "stride", "storage_offset", "dim", "numel"})
_GUARD_FUNCTIONS = frozenset({
    "Eq", "Ne", "Lt", "Le", "Gt", "Ge", "Min", "Max", "Mod", "PythonMod", "FloorDiv", "Abs", "floor",
    "ceiling", "CeilToInt", "FloorToInt", "TruncToInt", "RoundToInt", "ToFloat", "IntTrueDiv", "FloatTrueDiv",
    "Not", "And", "Or", "Identity",
})
_GUARD_MATH = frozenset({"inf", "nan", "isnan", "isinf", "isfinite"})
_GUARD_KEY = re.compile(r"^[A-Za-z0-9_./:-]{0,200}$")

# graph node targets
_OPERATOR_TARGETS = frozenset({
    "getitem", "add", "sub", "mul", "floordiv", "truediv", "mod", "neg", "pos", "eq", "ne", "lt", "le", "gt",
    "ge", "and_", "or_", "not_", "abs",
})
_TORCH_TARGETS = frozenset({
    "sym_int", "sym_float", "sym_max", "sym_min", "sym_not", "sym_sqrt", "sym_ite", "sym_sum", "sym_fresh_size",
})
_MATH_TARGETS = frozenset({"ceil", "floor", "trunc", "sqrt"})
_HIGHER_ORDER = frozenset({"cond", "while_loop", "map_impl", "scan", "wrap_with_set_grad_enabled",
                           "wrap_with_autocast"})
# ATen operators that touch files or the process (no export of a model needs them)
_DENIED_ATEN = frozenset({"from_file", "_use_cudnn_ctc_loss", "save", "load"})
_OP_PART = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,120}$")

_TREESPEC_TYPES = frozenset({None, "builtins.tuple", "builtins.list", "builtins.dict", "collections.OrderedDict"})


def _refuse(where: str, message: str) -> UnsafeExportError:
    return UnsafeExportError(f"{where}: {message}; loading never executes code from a file, so it is refused")


def check_sym_expr(text: Any, where: str) -> None:
    """Refuse a symbolic-shape expression outside the grammar torch writes (checked with ``ast``, never run).

    Examples
    --------
    >>> check_sym_expr("s0 + 2*s1", "expr_str")
    """
    if not isinstance(text, str) or len(text) > MAX_EXPR_CHARS:
        raise _refuse(where, f"expected a short symbolic expression, got {str(text)[:80]!r}")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise _refuse(where, f"{text[:120]!r} is not a symbolic expression") from None
    for node in ast.walk(tree):
        if isinstance(node, (ast.Expression, ast.Load, *_BINOPS, *_UNARY, *_COMPARE, ast.And, ast.Or)):
            continue
        if isinstance(node, (ast.BinOp, ast.UnaryOp, ast.Compare, ast.BoolOp, ast.keyword)):
            continue
        if isinstance(node, ast.Constant) and _plain_constant(node.value, text):
            continue
        if isinstance(node, ast.Name) and (_SYMBOL.match(node.id) or node.id in _SYM_NAMES):
            continue
        if isinstance(node, ast.Call) and _sym_call(node):
            continue
        if isinstance(node, ast.Name) and node.id in _SYM_FUNCTIONS and _is_called(tree, node):
            continue
        raise _refuse(where, f"{text[:120]!r} holds {_describe(node)}, which no symbolic shape needs")


def _plain_constant(value: Any, text: str) -> bool:
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, int):
        return abs(value) < 2**64
    if isinstance(value, float):
        return True
    return False


def _sym_call(node: ast.Call) -> bool:
    if not (isinstance(node.func, ast.Name) and node.func.id in _SYM_FUNCTIONS):
        return False
    if node.func.id == "Symbol":
        if len(node.args) != 1 or not isinstance(node.args[0], ast.Constant):
            return False
        name = node.args[0].value
        if not (isinstance(name, str) and _SYMBOL.match(name)):
            return False
        # the string constant is the symbol's name: accepted here, so mark it checked
        node.args[0].value = 0
        return all(k.arg in _SYMBOL_ASSUMPTIONS and isinstance(k.value, ast.Constant)
                   and isinstance(k.value.value, bool) for k in node.keywords)
    return not node.keywords


def _is_called(tree: ast.AST, name: ast.expr) -> bool:
    return any(isinstance(n, ast.Call) and n.func is name for n in ast.walk(tree))


def _describe(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return f"the name {node.id!r}"
    if isinstance(node, ast.Attribute):
        return f"the attribute {node.attr!r}"
    if isinstance(node, ast.Call):
        return "a call of " + (_describe(node.func) if not isinstance(node.func, ast.Name) else repr(node.func.id))
    if isinstance(node, ast.Constant):
        return f"the constant {str(node.value)[:40]!r}"
    return f"a {type(node).__name__} expression"


def check_guard(text: Any, where: str) -> None:
    """Refuse a guard (Python that torch ``exec``'s) outside ``L['a']['b'].size()[0] == 3``-like comparisons.

    Examples
    --------
    >>> check_guard("L['features']['x'].size()[0] == L['features']['k'].size()[0]", "guards_code[0]")
    >>> check_guard("__import__('os')", "guards_code[0]")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    estlab.export.safe_load.UnsafeExportError: guards_code[0]: ...
    """
    if not isinstance(text, str) or len(text) > MAX_EXPR_CHARS or any(c in text for c in '"\\\n\r'):
        raise _refuse(where, f"expected a shape guard, got {str(text)[:80]!r}")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise _refuse(where, f"{text[:120]!r} is not a shape guard") from None
    for node in ast.walk(tree):
        if isinstance(node, (ast.Expression, ast.Load, *_BINOPS, *_UNARY, *_COMPARE, ast.And, ast.Or,
                             ast.BinOp, ast.UnaryOp, ast.Compare, ast.BoolOp, ast.Subscript)):
            continue
        if isinstance(node, ast.Constant) and (
            _plain_constant(node.value, text) or (isinstance(node.value, str) and _GUARD_KEY.match(node.value))
        ):
            continue
        if isinstance(node, ast.Name) and node.id in ("L", "math", "inf"):
            continue
        if isinstance(node, ast.Name) and node.id in _GUARD_FUNCTIONS and _is_called(tree, node):
            continue
        if isinstance(node, ast.Attribute) and (
            (isinstance(node.value, ast.Name) and node.value.id == "math" and node.attr in _GUARD_MATH)
            or (node.attr in _GUARD_METHODS and _is_called(tree, node))
        ):
            continue
        if isinstance(node, ast.Call) and not node.keywords and (
            (isinstance(node.func, ast.Attribute) and node.func.attr in _GUARD_METHODS and not node.args)
            or (isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "math")
            or (isinstance(node.func, ast.Name) and node.func.id in _GUARD_FUNCTIONS)
        ):
            continue
        raise _refuse(where, f"{text[:120]!r} holds {_describe(node)}, which no shape guard needs")


def check_target(target: Any, where: str) -> None:
    """Refuse a graph node target other than an ATen/prims operator or a listed arithmetic helper.

    Examples
    --------
    >>> check_target("torch.ops.aten.linear.default", "target")
    >>> check_target("torch.ops.import_module", "target")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    estlab.export.safe_load.UnsafeExportError: target: ...
    """
    if not isinstance(target, str):
        raise _refuse(where, f"expected an operator name, got {type(target).__name__}")
    parts = target.split(".")
    ok = False
    if len(parts) in (4, 5) and parts[:2] == ["torch", "ops"] and all(_OP_PART.match(p) for p in parts[2:]):
        namespace, op = parts[2], parts[3]
        ok = (namespace in ("aten", "prims") and op not in _DENIED_ATEN) or (
            namespace == "higher_order" and op in _HIGHER_ORDER and len(parts) == 4
        )
    elif len(parts) == 2:
        ok = (
            (parts[0] == "_operator" and parts[1] in _OPERATOR_TARGETS)
            or (parts[0] == "torch" and parts[1] in _TORCH_TARGETS)
            or (parts[0] == "math" and parts[1] in _MATH_TARGETS)
        )
    if not ok:
        raise _refuse(where, f"the operator {target[:120]!r} is not an ATen operator or a listed arithmetic helper")


def check_treespec(text: Any, where: str) -> None:
    """Refuse a pytree spec naming anything but tuples, lists and dicts (an enum or a ``defaultdict``
    factory would be imported by name).

    Examples
    --------
    >>> check_treespec('[1, {"type": null, "context": null, "children_spec": []}]', "in_spec")
    """
    try:
        protocol, schema = json.loads(text)
    except (TypeError, ValueError):
        raise _refuse(where, "expected a pytree spec [protocol, schema]") from None
    if protocol != 1:
        raise _refuse(where, f"pytree protocol {protocol!r} is not 1")
    stack = [schema]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict) or set(node) != {"type", "context", "children_spec"}:
            raise _refuse(where, "a pytree node is not {type, context, children_spec}")
        if node["type"] not in _TREESPEC_TYPES:
            raise _refuse(where, f"the container type {str(node['type'])[:80]!r} is not a tuple, list or dict")
        context = node["context"]
        if context is not None:
            try:
                value = json.loads(context)
            except (TypeError, ValueError):
                raise _refuse(where, "a pytree context is not JSON") from None
            if not (value is None or (isinstance(value, list) and all(
                isinstance(v, (str, int)) and not isinstance(v, bool) for v in value
            ))):
                raise _refuse(where, f"the pytree context {str(context)[:80]!r} is not a list of keys")
        children = node["children_spec"]
        if not isinstance(children, list):
            raise _refuse(where, "children_spec is not a list")
        stack.extend(children)


def _walk(value: Any, path: str) -> Iterator[tuple[str, str, Any]]:
    """(path, key, value) of every dict entry, depth first (iterative: a deep file can't overflow the stack)."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                yield where, str(key), child
                stack.append((child, f"{where}.{key}"))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{i}]") for i, child in enumerate(item))


def check_program_json(document: Any, where: str) -> None:
    """Check a serialized ``ExportedProgram`` (``models/<name>.json``): see the module docstring."""
    if not isinstance(document, dict) or "graph_module" not in document:
        raise _refuse(where, "not a serialized torch.export program")
    for i, guard in enumerate(document.get("guards_code") or []):
        check_guard(guard, f"{where}: guards_code[{i}]")
    for path, key, value in _walk(document, ""):
        field = f"{where}: {path.lstrip('.')}.{key}".replace(": .", ": ")
        if key == "expr_str":
            check_sym_expr(value, field)
        elif key == "target" and path.split(".")[-1].startswith("nodes["):
            check_target(value, field)
        elif key in ("in_spec", "out_spec") and isinstance(value, str):
            check_treespec(value, field)
        elif key in ("as_custom_obj", "custom_obj") and value:
            raise _refuse(field, "custom (TorchScript or opaque) objects are not loaded")
        elif key == "custom_obj_values" and value:
            raise _refuse(field, "custom (TorchScript or opaque) objects are not loaded")
        elif key == "guards_code" and path:
            raise _refuse(field, "guards are only expected at the top level")


def _payload_config(archive: zipfile.ZipFile, member: str, prefix: str, where: str) -> None:
    config = _read_json(archive, member, where)
    entries = config.get("config") if isinstance(config, dict) else None
    if not isinstance(entries, dict):
        raise _refuse(f"{where}: {member}", "not a payload config")
    for name, entry in entries.items():
        field = f"{where}: {member}: config[{name!r}]"
        if not isinstance(entry, dict):
            raise _refuse(field, "not a payload entry")
        path_name = entry.get("path_name")
        if not (isinstance(path_name, str) and re.match(rf"^{prefix}\d+$", path_name)):
            raise _refuse(f"{field}.path_name", f"{str(path_name)[:80]!r} is not a tensor file ({prefix}<n>); "
                          "pickled, TorchScript and opaque objects are not loaded")
        if entry.get("use_pickle"):
            raise _refuse(f"{field}.use_pickle", "a pickled payload is not loaded")


def _read_json(archive: zipfile.ZipFile, member: str, where: str) -> Any:
    info = archive.getinfo(member)
    if info.file_size > MAX_JSON_BYTES:
        raise _refuse(f"{where}: {member}", f"{info.file_size} bytes is larger than any program")
    try:
        return json.loads(archive.read(member).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise UnsafeExportError(f"{where}: {member} is not valid JSON ({type(error).__name__})") from None


def check_pt2(path: str | Path) -> None:
    """Check a ``model.pt2`` before ``torch.export.load``: raises :class:`UnsafeExportError` naming the file,
    the member and the field of anything loading would have to execute, and for a damaged archive (CRC).

    Examples
    --------
    >>> check_pt2("/nonexistent/model.pt2")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    estlab.export.safe_load.UnsafeExportError: ...
    """
    where = str(path)
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as error:
        raise UnsafeExportError(f"{where}: not a readable torch.export archive ({error})") from None
    with archive:
        names = archive.namelist()
        roots = {name.split("/", 1)[0] for name in names}
        if len(roots) != 1 or not _MEMBER_NAME.match(next(iter(roots))):
            raise _refuse(where, f"expected one archive folder, found {sorted(roots)[:5]}")
        root = next(iter(roots)) + "/"
        programs: list[str] = []
        for name in names:
            rel = name[len(root):]
            parts = rel.split("/")
            if not all(_MEMBER_NAME.match(p) for p in parts):
                raise _refuse(f"{where}: {name}", "the member name is not a plain relative path")
            if rel in ("archive_format", "archive_version", "byteorder", ".data/version",
                       ".data/serialization_id"):
                continue
            if len(parts) == 2 and parts[0] == "models" and parts[1].endswith(".json"):
                programs.append(parts[1][: -len(".json")])
                continue
            if len(parts) == 3 and parts[:2] == ["data", "weights"] and (
                re.match(r"^weight_\d+$", parts[2]) or parts[2].endswith("_weights_config.json")
            ):
                continue
            if len(parts) == 3 and parts[:2] == ["data", "constants"] and (
                re.match(r"^tensor_\d+$", parts[2]) or parts[2].endswith("_constants_config.json")
            ):
                continue
            if len(parts) == 3 and parts[:2] == ["data", "sample_inputs"] and parts[2].endswith(".pt"):
                continue
            raise _refuse(f"{where}: {name}", "this member is not part of a torch.export program "
                          "(pickled constants, TorchScript objects, compiled code and legacy weight files are "
                          "not loaded)")
        if not programs:
            raise _refuse(where, "no models/<name>.json program")
        bad = archive.testzip()  # reads every member: CRC-32 of each checked
        if bad is not None:
            raise UnsafeExportError(f"{where}: member {bad} is damaged (CRC mismatch); the file was corrupted")
        for model in programs:
            for kind, prefix in (("weights", "weight_"), ("constants", "tensor_")):
                member = f"{root}data/{kind}/{model}_{kind}_config.json"
                if member not in names:
                    raise _refuse(f"{where}: {member}", "missing (legacy pickled payloads are not loaded)")
                _payload_config(archive, member, prefix, where)
            member = f"{root}models/{model}.json"
            check_program_json(_read_json(archive, member, where), f"{where}: {member}")
