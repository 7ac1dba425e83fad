"""Exact rewrites of an exported change network's ONNX graph for onnxruntime's CPU kernels (needs onnx).

onnxruntime runs convolutions in a blocked channel layout (NCHWc) and
converts tensors in and out of it around the operators that have no blocked
kernel. In the graph PyTorch exports for :class:`weipian.learn.network.LeanChangeNet`
those are the channel concatenations in front of the fusion and decoder
convolutions, and the resizes whose output size is computed from tensor
shapes at run time: on one thread they cost about a fifth of the network's
time. :func:`streamline` rewrites them into what has blocked kernels, with
the same weights and the same arithmetic up to float summation order:

- a 1 × 1 convolution over a concatenation becomes the sum of 1 × 1
  convolutions over its parts (the weight split along input channels);
- a depthwise convolution over a concatenation, its ReLU and the 1 × 1
  convolution after it become the same three per part, summed;
- a resize to a run-time size becomes a resize by the constant scale 2,
  which is what each of the network's upsamplings is for inputs whose sides
  are multiples of its stride (the model card's ``stride``, which
  :meth:`weipian.learn.model.ChangeModel.run` enforces).

The rewritten graph is checked against the original on random inputs before
it is returned; where they disagree the original is returned unchanged.
"""

from __future__ import annotations

import numpy as np

__all__ = ["streamline", "STREAMLINE_TOLERANCE"]

#: Largest probability difference between the rewritten and the original graph on the check inputs.
STREAMLINE_TOLERANCE = 1e-4


def streamline(model, *, stride: int = 16, check_side: int = 64):
    """The change network ``model`` with concatenations and run-time resizes rewritten (see the module).

    Parameters
    ----------
    model : onnx.ModelProto
        A change network exported by :func:`weipian.learn.export.export_onnx`
        (inputs ``before`` and ``after``, ``(N, C, H, W)``); not modified.
    stride : int
        The network's stride: inputs have sides that are multiples of it.
    check_side : int
        Side (pixels, a multiple of ``stride``) of the random check inputs.

    Returns
    -------
    onnx.ModelProto
        The rewritten copy, or ``model`` itself where nothing was rewritten
        or the rewrite's probabilities differ from the original's by more
        than :data:`STREAMLINE_TOLERANCE`.
    """
    import onnx

    rewritten = onnx.ModelProto()
    rewritten.CopyFrom(model)
    changed = _constant_resize_scales(rewritten.graph)  # first: shape inference then knows their channels
    channels = _channel_counts(rewritten)
    changed += _split_depthwise_decoders(rewritten.graph, channels)
    changed += _split_pointwise_over_concat(rewritten.graph, channels)
    _drop_unused_initializers(rewritten.graph)
    if not changed or not _agrees(model, rewritten, [(2, stride), (1, check_side), (1, 5 * stride)]):
        return model
    return rewritten


def _channel_counts(model) -> dict:
    """Channel count (dimension 1) of every tensor of ``model`` whose shape inference gives one."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    out = {}
    for value in [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]:
        dims = value.type.tensor_type.shape.dim
        if len(dims) > 1 and dims[1].HasField("dim_value"):
            out[value.name] = dims[1].dim_value
    return out


def _attrs(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _consumers(graph, name: str) -> list:
    return [n for n in graph.node if name in n.input]


def _initializer(graph, name: str) -> np.ndarray | None:
    from onnx import numpy_helper

    for init in graph.initializer:
        if init.name == name:
            return numpy_helper.to_array(init)
    return None


def _add_initializer(graph, array: np.ndarray, name: str) -> str:
    from onnx import numpy_helper

    graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
    return name


def _channel_concat(node, channels: dict) -> list | None:
    """The channel counts of a concatenation along channels, or None (another axis, unknown counts)."""
    if node.op_type != "Concat" or _attrs(node).get("axis") != 1:
        return None
    counts = [channels.get(name, 0) for name in node.input]
    return counts if all(counts) else None


def _pointwise(node) -> bool:
    a = _attrs(node)
    return (node.op_type == "Conv" and a.get("group", 1) == 1 and list(a.get("kernel_shape", [])) == [1, 1]
            and list(a.get("strides", [1, 1])) == [1, 1])


def _summed(graph, parts: list, output: str, name: str) -> list:
    """Add nodes summing ``parts`` (tensor names) into ``output``."""
    from onnx import helper

    nodes, total = [], parts[0]
    for k, part in enumerate(parts[1:], 1):
        out = output if k == len(parts) - 1 else f"{name}_sum{k}"
        nodes.append(helper.make_node("Add", [total, part], [out], name=f"{name}_sum{k}"))
        total = out
    return nodes


def _replace(graph, old: list, new: list) -> None:
    """Put ``new`` nodes where the first of ``old`` stood (the graph stays in topological order)."""
    at = min(list(graph.node).index(n) for n in old)
    for node in old:
        graph.node.remove(node)
    for k, node in enumerate(new):
        graph.node.insert(at + k, node)


def _split_pointwise_over_concat(graph, channels: dict) -> int:
    """``Conv1x1(Concat(x_1..x_k))`` → ``Σ Conv1x1_i(x_i)``; the number rewritten."""
    from onnx import helper

    count = 0
    for concat in [n for n in graph.node if n.op_type == "Concat"]:
        counts = _channel_concat(concat, channels)
        users = _consumers(graph, concat.output[0])
        if counts is None or len(users) != 1 or not _pointwise(users[0]):
            continue
        conv = users[0]
        weight = _initializer(graph, conv.input[1])
        if weight is None or weight.shape[1] != sum(counts):
            continue
        bias = conv.input[2:3]
        nodes, parts, start = [], [], 0
        for k, (name, c) in enumerate(zip(concat.input, counts)):
            w = _add_initializer(graph, weight[:, start:start + c], f"{conv.name}_w{k}")
            parts.append(f"{conv.name}_part{k}")
            nodes.append(helper.make_node("Conv", [name, w, *(bias if k == 0 else [])], [parts[-1]],
                                          name=f"{conv.name}_{k}", **_attrs(conv)))
            start += c
        _replace(graph, [concat, conv], nodes + _summed(graph, parts, conv.output[0], conv.name))
        count += 1
    return count


def _split_depthwise_decoders(graph, channels: dict) -> int:
    """``Conv1x1(ReLU(DepthwiseConv(Concat(x_i))))`` → ``Σ Conv1x1_i(ReLU(DepthwiseConv_i(x_i)))``."""
    from onnx import helper

    count = 0
    for concat in [n for n in graph.node if n.op_type == "Concat"]:
        counts = _channel_concat(concat, channels)
        users = _consumers(graph, concat.output[0])
        if counts is None or len(users) != 1 or users[0].op_type != "Conv":
            continue
        depthwise = users[0]
        if _attrs(depthwise).get("group", 1) != sum(counts) or len(depthwise.input) < 3:
            continue
        relus = _consumers(graph, depthwise.output[0])
        if len(relus) != 1 or relus[0].op_type != "Relu":
            continue
        relu = relus[0]
        convs = _consumers(graph, relu.output[0])
        if len(convs) != 1 or not _pointwise(convs[0]):
            continue
        pointwise = convs[0]
        w_dw, b_dw = _initializer(graph, depthwise.input[1]), _initializer(graph, depthwise.input[2])
        w_pw = _initializer(graph, pointwise.input[1])
        if w_dw is None or b_dw is None or w_pw is None or w_pw.shape[1] != sum(counts):
            continue
        nodes, parts, start = [], [], 0
        for k, (name, c) in enumerate(zip(concat.input, counts)):
            stop = start + c
            wd = _add_initializer(graph, w_dw[start:stop], f"{depthwise.name}_w{k}")
            bd = _add_initializer(graph, b_dw[start:stop], f"{depthwise.name}_b{k}")
            wp = _add_initializer(graph, w_pw[:, start:stop], f"{pointwise.name}_w{k}")
            dw_out, relu_out = f"{depthwise.name}_part{k}", f"{relu.name}_part{k}"
            parts.append(f"{pointwise.name}_part{k}")
            nodes += [
                helper.make_node("Conv", [name, wd, bd], [dw_out], name=f"{depthwise.name}_{k}",
                                 **{**_attrs(depthwise), "group": c}),
                helper.make_node("Relu", [dw_out], [relu_out], name=f"{relu.name}_{k}"),
                helper.make_node("Conv", [relu_out, wp, *(pointwise.input[2:3] if k == 0 else [])],
                                 [parts[-1]], name=f"{pointwise.name}_{k}", **_attrs(pointwise)),
            ]
            start = stop
        _replace(graph, [concat, depthwise, relu, pointwise],
                 nodes + _summed(graph, parts, pointwise.output[0], pointwise.name))
        count += 1
    return count


def _constant_resize_scales(graph) -> int:
    """Resizes to a run-time ``sizes`` input → resizes by the constant scales ``(1, 1, 2, 2)``."""
    count = 0
    for node in graph.node:
        if node.op_type != "Resize" or len(node.input) < 4 or not node.input[3]:
            continue
        if _attrs(node).get("mode", b"nearest") not in (b"linear", b"nearest"):
            continue
        scales = _add_initializer(graph, np.array([1.0, 1.0, 2.0, 2.0], np.float32),
                                  f"{node.name}_scales")
        source = node.input[0]
        del node.input[:]
        node.input.extend([source, "", scales])
        count += 1
    return count


def _drop_unused_initializers(graph) -> None:
    """Remove the weights no node reads any more (the unsplit ones)."""
    used = {name for node in graph.node for name in node.input}
    kept = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)


def _agrees(original, rewritten, shapes) -> bool:
    """Whether both graphs give the same probabilities (within the tolerance) on random inputs."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    sessions = [ort.InferenceSession(m.SerializeToString(), options, providers=["CPUExecutionProvider"])
                for m in (original, rewritten)]
    inputs = sessions[0].get_inputs()
    rng = np.random.default_rng(0)
    for n, side in shapes:
        feed = {i.name: rng.normal(0.0, 1.0, (n, i.shape[1], side, side)).astype(np.float32) for i in inputs}
        try:
            a, b = (s.run(None, feed)[0] for s in sessions)
        except Exception:  # noqa: BLE001 - a rewrite onnxruntime rejects is not kept
            return False
        if a.shape != b.shape or not np.all(np.abs(a - b) <= STREAMLINE_TOLERANCE):
            return False
    return True


def main(argv=None) -> None:
    """``python -m weipian.learn.graph MODEL.onnx ...``: streamline exported change models in place."""
    import argparse
    import json
    from pathlib import Path

    import onnx

    from .export import save_with_card

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("models", nargs="+", help="model.onnx files written by weipian train")
    args = parser.parse_args(argv)
    for path in args.models:
        model = onnx.load(path)
        card = json.loads({m.key: m.value for m in model.metadata_props}["weipian_card"])
        streamlined = streamline(model, stride=int(card.get("stride", 16)))
        if streamlined is model:
            print(f"{path}: left as it was (nothing to rewrite, or the rewrite did not agree)")
            continue
        save_with_card(streamlined, Path(path), card)
        print(f"{path}: streamlined")


if __name__ == "__main__":
    main()
