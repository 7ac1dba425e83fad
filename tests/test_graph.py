"""The streamlined ONNX graph gives the network's probabilities, without the operators it removes."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")


def _lean_network():
    from weipian.learn.network import build_network

    torch.manual_seed(0)
    net = build_network("lean", (8, 16, 24, 32)).eval()
    with torch.no_grad():  # batch norms away from the identity, so that a wrong split would show
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    return net


def _exported(tmp_path):
    """The network as PyTorch exports it (not streamlined) and the network itself."""
    from weipian.learn.export import _Probabilities, card_defaults, write_onnx_with_card

    net = _lean_network()
    dummy = torch.zeros(1, 6, 320, 320)
    path = write_onnx_with_card(_Probabilities(net), {"before": dummy, "after": dummy}, tmp_path / "m.onnx",
                                card_defaults())
    return onnx.load(str(path)), net.eval()  # the export leaves the network in training mode


def _run(model, xb, xa):
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"before": xb, "after": xa})[0]


def _ops(model):
    return [n.op_type for n in model.graph.node]


def test_streamlined_graph_gives_the_network_probabilities_without_channel_concats(tmp_path):
    from weipian.learn.graph import streamline

    exported, net = _exported(tmp_path)
    fast = streamline(exported)
    assert fast is not exported
    concats = [n for n in exported.graph.node if n.op_type == "Concat"
               and any(a.name == "axis" and a.i == 1 for a in n.attribute)]
    assert len(concats) == 7  # four fusions of (after, before, |difference|), three decoder skips
    assert not [n for n in fast.graph.node if n.op_type == "Concat"
                and any(a.name == "axis" and a.i == 1 for a in n.attribute)]
    assert all(len([i for i in n.input if i]) == 2 for n in fast.graph.node if n.op_type == "Resize")
    assert _ops(fast).count("Conv") > _ops(exported).count("Conv")
    rng = np.random.default_rng(3)
    for shape in [(2, 6, 96, 64), (1, 6, 320, 320)]:  # sides multiples of the stride of 16
        xb, xa = (rng.uniform(0, 1, shape).astype(np.float32) for _ in range(2))
        with torch.no_grad():
            expected = torch.sigmoid(net(torch.from_numpy(xb), torch.from_numpy(xa))).numpy()
        np.testing.assert_allclose(_run(fast, xb, xa), expected, atol=1e-5)
        np.testing.assert_allclose(_run(fast, xb, xa), _run(exported, xb, xa), atol=1e-5)


def test_a_rewrite_that_changes_the_probabilities_is_not_kept(tmp_path, monkeypatch):
    from weipian.learn import graph

    exported, _ = _exported(tmp_path)

    def wrong_scales(g):  # upsampling by 2 where each step doubles is right; anything else is not
        count = 0
        for node in g.node:
            if node.op_type == "Resize" and len(node.input) == 4:
                from onnx import numpy_helper

                g.initializer.append(numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "s"))
                del node.input[:]
                node.input.extend(["before", "", "s"])  # resizes the wrong tensor
                count += 1
                break
        return count

    monkeypatch.setattr(graph, "_constant_resize_scales", wrong_scales)
    assert graph.streamline(exported) is exported


def test_the_shipped_models_are_streamlined():
    from weipian.learn.model import DEFAULT_MODEL

    for path in [DEFAULT_MODEL, DEFAULT_MODEL.parent / "vhr" / "model.onnx",
                 DEFAULT_MODEL.parent / "coarse" / "model.onnx"]:
        model = onnx.load(str(path))
        assert "Concat" not in [n.op_type for n in model.graph.node
                                if any(a.name == "axis" and a.i == 1 for a in n.attribute)], path


def test_the_network_takes_tiles_on_its_stride_only():
    from weipian.errors import ModelError
    from weipian.learn.model import load_model

    x = np.zeros((1, 6, 100, 96), np.float32)
    with pytest.raises(ModelError, match="multiples of 16"):
        load_model(None).run(x, x)
