"""OpenVINO's head placement: the classifier's input Q/DQ on the pooled output, before the flatten.

ONNX Runtime's ``quantize_static`` leaves ``ReduceMean``/``GlobalAveragePool`` in
float and quantizes the Gemm's input after the ``Reshape``/``Flatten``. OpenVINO's
CPU plugin compiles that tail as Reduce (u8 in, f32 out) -> f32 Reorder -> f32
Reshape -> a standalone f32 FakeQuantize -> FullyConnected, where NNCF's graph has
the FakeQuantize fused into the Reduce and an int8 Reorder/Reshape
(``benchmarks/peer_kernels.py``). Moving the Q/DQ pair onto the pooled tensor gives
OpenVINO NNCF's shape; it is exact, since a per-tensor Q/DQ commutes with a reshape.
"""

from __future__ import annotations

from typing import Any

POOL_OPS = ("ReduceMean", "GlobalAveragePool")
SHAPE_OPS = ("Reshape", "Flatten", "Squeeze")


def _users(graph: Any) -> dict[str, list[Any]]:
    """Tensor -> the nodes reading it; a graph output also counts as a reader (it must stay as it is)."""
    out: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            out.setdefault(name, []).append(node)
    for value in graph.output:
        out.setdefault(value.name, []).append(value)
    return out


def _hoistable(q: Any, producer: dict[str, Any], users: dict[str, list[Any]]) -> tuple[Any, Any] | None:
    """(shape op, its DequantizeLinear partner) when ``q`` quantizes pool -> shape op output; else None."""
    shape = producer.get(q.input[0])
    if shape is None or shape.op_type not in SHAPE_OPS or len(users.get(shape.output[0], [])) != 1:
        return None
    pool = producer.get(shape.input[0])
    if pool is None or pool.op_type not in POOL_OPS or len(users.get(pool.output[0], [])) != 1:
        return None
    dqs = users.get(q.output[0], [])
    if len(dqs) != 1 or getattr(dqs[0], "op_type", None) != "DequantizeLinear":
        return None
    if any(not hasattr(u, "op_type") for u in users.get(dqs[0].output[0], [])):
        return None  # the dequantized tensor is a graph output: its shape must not change
    return shape, dqs[0]


def _rename_pair(graph: Any, q: Any, dq: Any, tensor: str) -> None:
    """Name the pair's outputs after the tensor it now quantizes, as ``quantize_static`` does
    (``<tensor>_QuantizeLinear_Output``): ORT's ``qdq_loss_debug`` pairs tensors by these names."""
    taken = {o for n in graph.node for o in n.output}
    q_out, dq_out = f"{tensor}_QuantizeLinear_Output", f"{tensor}_DequantizeLinear_Output"
    if q_out in taken or dq_out in taken:
        return
    q.output[0] = dq.input[0] = q_out
    dq.output[0] = dq_out
    q.name, dq.name = f"{tensor}_QuantizeLinear", f"{tensor}_DequantizeLinear"


def hoist_head_qdq(model: Any) -> int:
    """Move each Q/DQ pair behind a pool -> flatten onto the pool output (in place); returns how many."""
    graph = model.graph
    producer = {out: n for n in graph.node for out in n.output}
    users = _users(graph)
    moved = 0
    for q in [n for n in graph.node if n.op_type == "QuantizeLinear"]:
        found = _hoistable(q, producer, users)
        if found is None:
            continue
        shape, dq = found
        flat, pooled, dq_out = shape.output[0], shape.input[0], dq.output[0]
        stale = {q.output[0], dq_out}  # their recorded shapes were the flattened ones
        for consumer in users.get(dq_out, []):
            consumer.input[:] = [flat if name == dq_out else name for name in consumer.input]
        q.input[0] = pooled
        _rename_pair(graph, q, dq, pooled)
        shape.input[0] = dq.output[0]
        nodes = [n for n in graph.node if n is not shape]
        nodes.insert(next(i for i, n in enumerate(nodes) if n is dq) + 1, shape)  # keep topological order
        del graph.node[:]
        graph.node.extend(nodes)
        keep = [v for v in graph.value_info if v.name not in stale]
        del graph.value_info[:]
        graph.value_info.extend(keep)
        moved += 1
    return moved
