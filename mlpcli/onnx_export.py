"""``mlp export --format onnx``: a checkpoint as an ONNX model that runs without mlpcli.

The graph is the network with what mlpcli does around it (README, "ONNX export"):

* inputs: for array data one tensor ``input`` (N, n_in) with the input normalisation
  (``scale``/``standard``) baked in; for a table one tensor per input column, shaped (N, 1)
  (numbers as floats, missing as NaN; categories as strings), imputed, scaled and one-hot
  encoded as in training;
* each layer ``Z = A_prev @ W.T + b`` is one ``Gemm`` (transB=1, W kept (out, in)) followed
  by its activation;
* outputs: ``probabilities`` (N, classes) and ``label`` (N,) for classification (the class
  names of a table, else class indices); ``predictions`` (N, outputs) for regression, in the
  target's original units.

Standard ONNX operators at opset ``OPSET`` (``LabelEncoder`` from ``ai.onnx.ml`` for
categories). The graph computes in the checkpoint's dtype (float32 unless trained in float64).
"""

from __future__ import annotations

import json

import numpy as np

from .errors import CheckpointError, require
from .safeio import resolved

OPSET = 17  # ai.onnx; onnxruntime >= 1.13 runs it
ML_OPSET = 3  # ai.onnx.ml, for LabelEncoder (string -> category index)

class _Graph:
    """Nodes and constants of a graph under construction, with fresh names."""

    def __init__(self, onnx, dtype):
        self.onnx, self.dtype, self.nodes, self.consts, self.n = onnx, np.dtype(dtype), [], [], 0

    def const(self, base: str, value, dtype=None) -> str:
        """A constant tensor (in the graph's dtype unless ``dtype`` is given)."""
        from onnx import numpy_helper

        self.n += 1
        name = f"{base}_{self.n}"
        self.consts.append(numpy_helper.from_array(np.asarray(value, dtype=dtype or self.dtype), name))
        return name

    def op(self, kind: str, inputs, out: str | None = None, domain: str = "", **attrs) -> str:
        self.n += 1
        out = out or f"{kind.lower()}_{self.n}"
        self.nodes.append(self.onnx.helper.make_node(kind, list(inputs), [out], domain=domain, **attrs))
        return out

    def elem(self, dtype=None) -> int:
        """The ONNX element type of a NumPy dtype (default: the graph's)."""
        return self.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype or self.dtype))


def _softplus(g, Z):
    """log(1 + e^z) = max(z, 0) + log(1 + e^-|z|): no overflow, and (unlike the Softplus operator,
    which onnxruntime implements in float32 only) any dtype."""
    t = g.op("Exp", [g.op("Neg", [g.op("Abs", [Z])])])
    return g.op("Add", [g.op("Relu", [Z]), g.op("Log", [g.op("Add", [t, g.const("one", 1.0)])])])


# activation name -> how the graph computes A = g(Z): one entry per entry of activations.ACTIVATIONS
ACTIVATION_OPS = {
    "identity": lambda g, Z, p: Z,
    "relu": lambda g, Z, p: g.op("Relu", [Z]),
    # max(z, alpha z) as mlpcli computes it; LeakyRelu's alpha attribute is a float32 even in a float64 graph
    "leaky_relu": lambda g, Z, p: g.op("Max", [Z, g.op("Mul", [Z, g.const("alpha", p["alpha"])])]),
    "softplus": lambda g, Z, p: _softplus(g, Z),
    "sigmoid": lambda g, Z, p: g.op("Sigmoid", [Z]),
    "tanh": lambda g, Z, p: g.op("Tanh", [Z]),
    "step": lambda g, Z, p: g.op("Cast", [g.op("Greater", [Z, g.const("zero", 0.0)])], to=g.elem()),  # 1 if z > 0
    "softmax": lambda g, Z, p: g.op("Softmax", [Z], axis=-1),
}


# ---------------------------------------------------------------------------- inputs
def _array_inputs(g, net, norm):
    """One input tensor, normalised as mlp predict does: (x - mean) * (1/std), or x * (1/scale)."""
    from onnx import helper

    info = [helper.make_tensor_value_info("input", g.elem(), ["N", net.layers[0]])]
    X, kind = "input", norm.get("kind", "none")
    if kind == "scale":
        X = g.op("Mul", [X, g.const("inv_scale", 1.0 / norm["scale"])])
    elif kind == "standard":
        X = g.op("Sub", [X, g.const("mean", norm["mean"])])
        X = g.op("Mul", [X, g.const("inv_std", 1.0 / np.asarray(norm["std"]))])
    elif kind != "none":
        raise CheckpointError(f"cannot export the input normalisation {kind!r}")
    return X, info, f"input: {g.dtype.name} (N, {net.layers[0]}), the raw inputs of mlp predict (normalisation '{kind}' is in the graph)"


def _table_inputs(g, spec, na_values):
    """One (N, 1) input per table column: numbers imputed and scaled; categories (strings) coded by
    a LabelEncoder (a missing value, one of ``na_values``, as the fill category; an unseen one as -1)
    and one-hot by comparison with 0..k-1, so that an unseen category is all zeros."""
    from onnx import TensorProto, helper

    info, parts, described = [], [], []
    for c in spec["columns"]:
        name = c["name"]
        if c["type"] == "numeric":
            info.append(helper.make_tensor_value_info(name, g.elem(), ["N", 1]))
            x = name
            if c["fill"] is not None:  # a missing number (NaN) takes the training fill value
                x = g.op("Where", [g.op("IsNaN", [x]), g.const("fill", [[c["fill"]]]), x])
            x = g.op("Sub", [x, g.const("shift", [[c["shift"]]])])
            parts.append(g.op("Mul", [x, g.const("inv_scale", [[1.0 / c["scale"]]])]))
            described.append(f"{name} ({g.dtype.name})")
        else:
            info.append(helper.make_tensor_value_info(name, TensorProto.STRING, ["N", 1]))
            cats = list(c["categories"])
            keys = {v: i for i, v in enumerate(cats)}
            if c["fill"] is not None:  # a missing value counts as the fill category
                keys.update({na: cats.index(c["fill"]) for na in na_values if na not in keys})
            code = g.op("LabelEncoder", [name], domain="ai.onnx.ml", keys_strings=list(keys),
                        values_int64s=list(keys.values()), default_int64=-1)  # unseen: -1
            hot = g.op("Equal", [code, g.const("categories", [list(range(len(cats)))], np.int64)])  # (N, k); -1: zeros
            parts.append(g.op("Cast", [hot], to=g.elem()))
            described.append(f"{name} (string)")
    X = g.op("Concat", parts, axis=1) if len(parts) > 1 else parts[0]
    return X, info, "inputs: one (N, 1) tensor per table column: " + ", ".join(described)


# ---------------------------------------------------------------------------- network and outputs
def _network(g, net, X):
    """Z = A_prev @ W.T + b (Gemm with transB=1 on W shaped (out, in)), then A = g(Z), per layer."""
    A = X
    for layer, (W, b, act) in enumerate(zip(net.W, net.b, net.activations, strict=True), start=1):
        inputs = [A, g.const(f"W{layer}", W)] + ([g.const(f"b{layer}", b)] if b is not None else [])
        Z = g.op("Gemm", inputs, transB=1)
        A = ACTIVATION_OPS[act.name](g, Z, act.params)
    return A


def _outputs(g, net, A, task, spec):
    """(output value infos, description): probabilities and label, or predictions in original units."""
    from onnx import TensorProto, helper

    k = net.layers[-1]
    if not task.classification:
        target = (spec or {}).get("target") or {}
        if "scale" in target:  # fitted on standardised targets: back to the original units
            A = g.op("Add", [g.op("Mul", [A, g.const("y_scale", target["scale"])]), g.const("y_shift", target["shift"])])
        g.op("Identity", [A], out="predictions")
        return [helper.make_tensor_value_info("predictions", g.elem(), ["N", k])], f"predictions: (N, {k}) in the target's units"
    if k == 1:  # one sigmoid (or step) unit: P(class 1); class 1 when it exceeds 0.5, as mlp predict
        g.op("Concat", [g.op("Sub", [g.const("one", [[1.0]]), A]), A], out="probabilities", axis=1)
        index = g.op("Cast", [g.op("Greater", [A, g.const("half", 0.5)])], to=TensorProto.INT64)
        index = g.op("Reshape", [index, g.const("shape", [-1], np.int64)])
        n_classes = 2
    else:
        g.op("Identity", [A], out="probabilities")
        index = g.op("ArgMax", [A], axis=1, keepdims=0)
        n_classes = k
    classes = list(task.classes) if spec is not None else None  # a table's class names; else the indices
    if classes:
        g.op("Gather", [g.const("classes", list(classes), object), index], out="label", axis=0)
        label = helper.make_tensor_value_info("label", TensorProto.STRING, ["N"])
    else:
        g.op("Identity", [index], out="label")
        label = helper.make_tensor_value_info("label", TensorProto.INT64, ["N"])
    probs = helper.make_tensor_value_info("probabilities", g.elem(), ["N", n_classes])
    names = f"class names {', '.join(map(str, classes))}" if classes else "class indices"
    return [probs, label], f"probabilities: (N, {n_classes}), one column per class; label: (N,) {names}"


def build_model(net):
    """The ONNX model of a loaded checkpoint (``load_checkpoint``): preprocessing, network, outputs."""
    onnx = require("onnx", "onnx", "ONNX export needs the onnx extra")
    from onnx import helper

    from . import __version__

    g = _Graph(onnx, net.dtype)
    norm = getattr(net, "normalizer", None) or {"kind": "none"}
    spec = norm if norm.get("kind") == "table" else None
    if spec is not None:
        na = getattr(getattr(getattr(net, "config", None), "data", None), "na_values", None) or []
        X, inputs, in_doc = _table_inputs(g, spec, list(dict.fromkeys(["", *map(str, na)])))  # "" is always missing
    else:
        X, inputs, in_doc = _array_inputs(g, net, norm)
    task = net.task  # decided in training, stored in the checkpoint (task.py)
    outputs, out_doc = _outputs(g, net, _network(g, net, X), task, spec)
    doc = f"mlpcli {__version__} MLP {net.layers} ({task.kind}); {in_doc}; {out_doc}; opset {OPSET}"
    graph = helper.make_graph(g.nodes, "mlpcli", inputs, outputs, initializer=g.consts, doc_string=doc)
    opsets = [helper.make_opsetid("", OPSET)] + ([helper.make_opsetid("ai.onnx.ml", ML_OPSET)] if spec else [])
    model = helper.make_model(graph, opset_imports=opsets, producer_name="mlpcli", producer_version=__version__,
                              doc_string=doc)
    model.ir_version = 8  # the IR version of opset 17: readable by onnxruntime >= 1.13
    props = {"task": task.kind, "layers": json.dumps(net.layers), "opset": str(OPSET),
             "activations": json.dumps([a.name for a in net.activations])}
    if spec is not None:
        props["classes"] = json.dumps(list(task.classes) if task.classification else None)
    helper.set_model_props(model, props)
    onnx.checker.check_model(model, full_check=True)
    return model


def export_onnx(net, path) -> dict:
    """Write the ONNX model of ``net`` to ``path`` (atomically); returns what was written."""
    from .checkpoint import atomic_write

    model = build_model(net)
    data = model.SerializeToString()
    atomic_write(path, lambda f: f.write(data))  # an OS failure is a WriteError naming the path (exit 2)
    return {"path": resolved(path), "opset": OPSET, "bytes": len(data), "doc": model.doc_string,
            "inputs": [i.name for i in model.graph.input], "outputs": [o.name for o in model.graph.output]}
