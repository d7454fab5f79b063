"""TensorRT's residual placement: Q/DQ on the identity input of each residual Add, none on the conv branch.

ONNX Runtime's ``quantize_static`` quantizes every input of an ``Add``. For
TensorRT that is the wrong shape: its int8 convolution can take the residual
add (and the ReLU after it) into its epilogue only when the convolution's own
output reaches the Add in float and the *other* input, the shortcut, arrives
through a Q/DQ pair (TensorRT developer guide, "Q/DQ Layer-Placement
Recommendations"; NVIDIA's TensorFlow quantization toolkit ``ResNetV1QDQCase``;
pytorch-quantization's ResNet quantizes only the residual input). A Q/DQ on the
conv branch blocks that fusion and rounds the branch once more.

Which input is the conv branch: the one with more convolutions behind it. In a
block the main branch has two or three convs after the block input, the
shortcut none (identity) or one (the downsample conv), so "deeper" picks the
main branch in basic, bottleneck and downsample blocks alike. An Add whose two
inputs are equally deep is left as it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")


def conv_depths(graph: Any) -> dict[str, int]:
    """Tensor name -> the largest number of Conv nodes on any path from the graph inputs (nodes are topological)."""
    depth: dict[str, int] = {}
    for node in graph.node:
        d = max((depth.get(name, 0) for name in node.input if name), default=0)
        d += 1 if node.op_type == "Conv" else 0
        for out in node.output:
            depth[out] = d
    return depth


def behind_qdq(name: str, producer: dict[str, Any]) -> tuple[str, list[Any]]:
    """(tensor before a DequantizeLinear <- QuantizeLinear chain, the chain's nodes); ([] if none)."""
    dq = producer.get(name)
    if dq is None or dq.op_type != "DequantizeLinear":
        return name, []
    q = producer.get(dq.input[0])
    if q is None or q.op_type != "QuantizeLinear":
        return name, []
    return q.input[0], [q, dq]


def residual_adds(graph: Any) -> list[Any]:
    """Add nodes whose two inputs are both computed (not weights or constants): the residual joins."""
    computed = {out for node in graph.node for out in node.output}
    return [n for n in graph.node if n.op_type == "Add" and len(n.input) == 2 and all(i in computed for i in n.input)]


def conv_branch_index(add: Any, producer: dict[str, Any], depth: dict[str, int]) -> int | None:
    """Which input of ``add`` is the convolution branch (0 or 1), None when both are equally deep."""
    d = [depth.get(behind_qdq(name, producer)[0], 0) for name in add.input]
    if d[0] == d[1]:
        return None
    return 0 if d[0] > d[1] else 1


def place_residual_qdq(model: Any) -> int:
    """Remove the Q/DQ pair on the conv-branch input of every residual Add (in place); returns how many."""
    graph = model.graph
    producer = {out: n for n in graph.node for out in n.output}
    depth = conv_depths(graph)
    consumers: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            consumers[name] = consumers.get(name, 0) + 1
    dropped: list[Any] = []
    for add in residual_adds(graph):
        i = conv_branch_index(add, producer, depth)
        if i is None:
            continue
        source, chain = behind_qdq(add.input[i], producer)
        if not chain or consumers.get(chain[1].output[0], 0) != 1 or consumers.get(chain[0].output[0], 0) != 1:
            continue  # no pair, or a pair shared with another consumer: leave it
        add.input[i] = source
        dropped.extend(chain)
    _remove_nodes(graph, dropped)
    return len(dropped) // 2


def _remove_nodes(graph: Any, nodes: Iterable[Any]) -> None:
    ids = {id(n) for n in nodes}
    keep = [n for n in graph.node if id(n) not in ids]
    del graph.node[:]
    graph.node.extend(keep)
    used = {name for n in graph.node for name in n.input}
    inits = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(inits)
