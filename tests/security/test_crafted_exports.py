"""Crafted exports: every vector refused before anything runs, with the file and field named.

Each hostile payload would write a marker file if it ran; each test asserts the marker is absent and, for the
import vectors, that the planted module never entered ``sys.modules``. Two controls show the payloads are real
(torch's own loader runs them when called directly, without estlab's reader in front).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from security_crafting import (
    add_pickled_constant,
    copy_export,
    edit_json,
    edit_program_json,
    hostile_pickle,
    reseal,
    rewrite_pt2,
    writes,
)

from estlab import export
from estlab.export.safe_load import UnsafeExportError

FRAME = pd.DataFrame({
    "age": [25.0, 38.0, 28.0, 44.0, 52.0, 63.0, 19.0, 33.0],
    "color": ["red", "blue", "red", None, "green", "blue", "red", "blue"],
    "label": ["no", "yes", "no", "yes", "no", "yes", "no", "yes"],
})
SYMBOL = "Symbol('s16', positive=True, integer=True)"


@pytest.fixture(scope="module")
def good_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from estlab import feature_column as fc
    from estlab.estimators import DNNClassifier

    base = tmp_path_factory.mktemp("good")
    columns = [
        fc.numeric_column("age", normalizer="zscore", normalizer_fn=lambda t: t * 2.0),
        fc.embedding_column(fc.categorical_column_with_learned_vocabulary("color"), 2),
    ]
    est = DNNClassifier([4], columns, label_vocabulary=["no", "yes"], model_dir=str(base / "model"),
                        optimizer="SGD")
    est.train(FRAME, label="label", steps=3, batch_size=4)
    return Path(est.export_saved_model(str(base / "export"), onnx=False))


@pytest.fixture
def crafted(good_export: Path, tmp_path: Path) -> Path:
    return copy_export(good_export, tmp_path / "1700000000")


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    path = tmp_path / "code-ran.txt"
    yield path
    assert not path.exists(), "a crafted file executed code"


@pytest.fixture
def planted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, marker: Path) -> str:
    """A module on sys.path that writes the marker when imported; returns its name."""
    folder = tmp_path / "planted"
    folder.mkdir()
    (folder / "estlab_planted_sec.py").write_text(
        f"{writes(marker)}\nimport enum, collections\nclass E(enum.Enum):\n    A = 1\nfactory = list\n"
    )
    monkeypatch.syspath_prepend(str(folder))
    yield "estlab_planted_sec"
    assert "estlab_planted_sec" not in sys.modules


def _refused(path: Path, *fragments: str) -> str:
    with pytest.raises((UnsafeExportError, ValueError)) as info:
        export.load(path)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_the_good_export_passes_the_reader(good_export: Path) -> None:
    model = export.load(good_export)
    assert model.predict(FRAME.head(2))[0]["classes"].tolist()[0] in (b"no", b"yes", "no", "yes")


# --- 1. opaque / custom objects in the constants ------------------------------------------------------------

def test_an_opaque_object_constant_is_never_unpickled(crafted: Path, marker: Path) -> None:
    add_pickled_constant(crafted, "opaque_obj_0", hostile_pickle(marker))
    _refused(crafted, str(crafted / "model.pt2"), "data/constants/opaque_obj_0")


def test_control_torch_alone_would_unpickle_the_opaque_constant(crafted: Path, tmp_path: Path) -> None:
    """The payload above is real: torch.export.load without estlab's reader executes it."""
    ran = tmp_path / "control.txt"
    add_pickled_constant(crafted, "opaque_obj_0", hostile_pickle(ran))
    try:
        torch.export.load(crafted / "model.pt2")
    except Exception:  # noqa: BLE001 - the load may fail after the payload ran
        pass
    assert ran.exists()


def test_a_torchscript_custom_object_constant_is_refused(crafted: Path, marker: Path) -> None:
    add_pickled_constant(crafted, "custom_obj_0", hostile_pickle(marker))
    _refused(crafted, "data/constants/custom_obj_0")


def test_a_pickled_tensor_constant_is_refused_even_under_weights_only(crafted: Path, marker: Path) -> None:
    add_pickled_constant(crafted, "tensor_9", hostile_pickle(marker))
    _refused(crafted, "model_constants_config.json", "config['evil'].use_pickle")


def test_a_legacy_pickled_weights_file_is_refused(crafted: Path, marker: Path) -> None:
    def add(members: dict[str, bytes], root: str) -> None:
        members[f"{root}data/weights/model.pt"] = hostile_pickle(marker)

    rewrite_pt2(crafted, add)
    _refused(crafted, "data/weights/model.pt", "not part of a torch.export program")


def test_compiled_code_in_the_archive_is_refused(crafted: Path) -> None:
    def add(members: dict[str, bytes], root: str) -> None:
        members[f"{root}data/aotinductor/model/model.so"] = b"\x7fELF"

    rewrite_pt2(crafted, add)
    _refused(crafted, "data/aotinductor/model/model.so")


# --- 2. sympy expressions, guards, pytree specs, operators --------------------------------------------------

def test_a_python_expression_in_expr_str_is_never_evaluated(crafted: Path, marker: Path) -> None:
    evil = f"(__import__('builtins').exec({writes(marker)!r}), {SYMBOL})[1]"

    def change(document: dict) -> None:
        document["graph_module"]["graph"]["sym_int_values"]["sym_size_int_2"]["as_expr"]["expr_str"] = evil

    edit_program_json(crafted, change)
    _refused(crafted, "models/model.json", "graph_module.graph.sym_int_values.sym_size_int_2.as_expr.expr_str")


def test_control_torch_alone_would_evaluate_the_expression(crafted: Path, tmp_path: Path) -> None:
    ran = tmp_path / "control.txt"
    evil = f"(__import__('builtins').exec({writes(ran)!r}), {SYMBOL})[1]"

    def change(document: dict) -> None:
        document["graph_module"]["graph"]["sym_int_values"]["sym_size_int_2"]["as_expr"]["expr_str"] = evil

    edit_program_json(crafted, change)
    try:
        torch.export.load(crafted / "model.pt2")
    except Exception:  # noqa: BLE001
        pass
    assert ran.exists()


@pytest.mark.parametrize("expr", [
    "s16.__class__", "Symbol('os').__init__", "lambdify(s16, 's16')", "sympify('1')", "9**9**9",
    "Symbol('s16', evaluate=__import__('os'))", "[s16 for s16 in ()]", "Integer(10**100)",
])
def test_expressions_outside_the_grammar_are_refused(crafted: Path, marker: Path, expr: str) -> None:
    def change(document: dict) -> None:
        document["graph_module"]["graph"]["tensor_values"]["features_age"]["sizes"][0]["as_expr"]["expr_str"] = expr

    edit_program_json(crafted, change)
    _refused(crafted, "tensor_values.features_age.sizes[0].as_expr.expr_str")


def test_python_in_the_guards_code_is_never_executed(crafted: Path, marker: Path) -> None:
    def change(document: dict) -> None:
        document["guards_code"] = [
            f"L['features']['age'].size()[0] == (__import__('builtins').exec({writes(marker)!r}) or 0)"
        ]

    edit_program_json(crafted, change)
    _refused(crafted, "models/model.json", "guards_code[0]")


def test_a_guard_breaking_out_of_its_message_string_is_refused(crafted: Path) -> None:
    def change(document: dict) -> None:
        document["guards_code"] = ["L['a\"), print(1), (\"'].size()[0] == 1"]

    edit_program_json(crafted, change)
    _refused(crafted, "guards_code[0]")


def test_an_enum_in_a_pytree_spec_is_never_imported(crafted: Path, planted: str) -> None:
    def change(document: dict) -> None:
        call = document["graph_module"]["module_call_graph"][0]["signature"]
        spec = json.loads(call["out_spec"])
        spec[1]["context"] = json.dumps([{"__enum__": True, "fqn": f"{planted}:E", "name": "A"}])
        call["out_spec"] = json.dumps(spec)

    edit_program_json(crafted, change)
    _refused(crafted, "module_call_graph[0].signature.out_spec", "not a list of keys")


def test_a_defaultdict_factory_in_a_pytree_spec_is_never_imported(crafted: Path, planted: str) -> None:
    def change(document: dict) -> None:
        call = document["graph_module"]["module_call_graph"][0]["signature"]
        spec = json.loads(call["out_spec"])
        spec[1]["type"] = "collections.defaultdict"
        spec[1]["context"] = json.dumps({"default_factory_module": planted, "default_factory_name": "factory",
                                         "dict_context": []})
        call["out_spec"] = json.dumps(spec)

    edit_program_json(crafted, change)
    _refused(crafted, "out_spec", "collections.defaultdict")


@pytest.mark.parametrize("target", [
    "torch.ops.import_module", "torch.ops.load_library", "torch.load", "torch.save", "builtins.exec",
    "_operator.methodcaller", "torch.ops.aten.from_file.default", "torch.ops.myns.evil.default",
    "#myext:op", "torch.hub.load",
])
def test_graph_nodes_may_call_only_operators(crafted: Path, target: str) -> None:
    def change(document: dict) -> None:
        document["graph_module"]["graph"]["nodes"][1]["target"] = target

    edit_program_json(crafted, change)
    _refused(crafted, "graph_module.graph.nodes[1].target", target[:20])


def test_a_custom_object_argument_is_refused(crafted: Path) -> None:
    def change(document: dict) -> None:
        document["graph_module"]["graph"]["custom_obj_values"] = {"obj": {"name": "obj", "class_fqn": "x.Y"}}

    edit_program_json(crafted, change)
    _refused(crafted, "custom_obj_values")


def test_a_member_leaving_the_archive_folder_is_refused(crafted: Path) -> None:
    def add(members: dict[str, bytes], root: str) -> None:
        members[f"{root}../../evil"] = b"x"

    rewrite_pt2(crafted, add)
    _refused(crafted, "model.pt2")


# --- 3./4. callables by name: see tests/export/test_column_functions.py (export and checkpoint) --------------

def test_a_callable_in_the_transformer_json_is_never_imported(crafted: Path, planted: str) -> None:
    def change(document: dict) -> None:
        document["columns"][0]["normalizer_fn"] = {"callable": f"{planted}:factory"}

    edit_json(crafted / "feature_transformer.json", change, crafted)
    _refused(crafted, "column 'age'", "never imports")


def test_a_function_entry_in_the_transformer_json_is_never_imported(crafted: Path, planted: str) -> None:
    def change(document: dict) -> None:
        document["columns"][1]["categorical_column"]["vocabulary_fn"] = {"function": f"{planted}:factory"}

    edit_json(crafted / "feature_transformer.json", change, crafted)
    with pytest.raises(Exception):  # noqa: B017 - an unknown field: the column class refuses it
        export.load(crafted)


def test_an_unknown_column_class_is_refused(crafted: Path, planted: str) -> None:
    def change(document: dict) -> None:
        document["columns"][0]["class"] = f"{planted}.E"

    edit_json(crafted / "feature_transformer.json", change, crafted)
    _refused(crafted, "unknown column class")


# --- 5. paths confined to the export ------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["/etc/passwd", "../model.pt2", "sub/model.pt2", "..", "", 7])
def test_program_file_must_name_a_file_of_the_export(crafted: Path, name: object) -> None:
    edit_json(crafted / "export.json", lambda d: d["program"].__setitem__("file", name))
    _refused(crafted, "program.file")


def test_program_file_linking_out_of_the_export_is_refused(crafted: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.pt2"
    (crafted / "model.pt2").rename(outside)
    os.symlink(outside, crafted / "model.pt2")
    edit_json(crafted / "export.json", lambda d: d.pop("files"))
    _refused(crafted, "program.file", "link leading out of the export")


@pytest.mark.parametrize("name", ["/etc/hosts", "../../feature_transformer.json"])
def test_preprocessing_file_must_name_a_file_of_the_export(crafted: Path, name: str) -> None:
    edit_json(crafted / "export.json", lambda d: d["preprocessing"].__setitem__("file", name))
    _refused(crafted, "preprocessing.file")


def test_a_checksum_list_naming_outside_files_is_refused(crafted: Path) -> None:
    edit_json(crafted / "export.json", lambda d: d["files"].__setitem__("../x", {"sha256": "0", "bytes": 1}))
    _refused(crafted, "files['../x']")


# --- integrity ------------------------------------------------------------------------------------------------

def test_a_bit_flip_in_any_export_file_is_named(crafted: Path) -> None:
    for name in ("model.pt2", "feature_transformer.json"):
        data = bytearray((crafted / name).read_bytes())
        data[len(data) // 2] ^= 0x10
        (crafted / name).write_bytes(bytes(data))
        _refused(crafted, f"{name} is damaged")
        data[len(data) // 2] ^= 0x10
        (crafted / name).write_bytes(bytes(data))
    export.load(crafted)


def test_a_bit_flip_in_a_weight_is_caught_by_the_archive_crc_even_when_resealed(crafted: Path) -> None:
    import zipfile

    with zipfile.ZipFile(crafted / "model.pt2") as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith("weights/weight_1"))
    data = bytearray((crafted / "model.pt2").read_bytes())
    start = info.header_offset  # the local header's own name and extra lengths (torch pads the extra field)
    name_length, extra_length = (int.from_bytes(data[start + k:start + k + 2], "little") for k in (26, 28))
    data[start + 30 + name_length + extra_length + 5] ^= 0x01
    (crafted / "model.pt2").write_bytes(bytes(data))
    reseal(crafted)
    _refused(crafted, "model.pt2", "weight_1")
