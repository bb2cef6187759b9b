#!/usr/bin/env python3
"""The ONNX twin of a ganscope standard dcgan or layer-program generator, for the browser
benchmark (a program: every op of crates/model/src/program.rs but for residual depth).

    python3 tests/browser/peer/onnx_twin.py MODEL.safetensors OUT.onnx

Reads the generator's weights from a `ganscope export` file (f16 or f32; the file's own
checks are ganscope's business, this script trusts a file the project ships) and writes
the same forward as an ONNX graph (opset 17) with a dynamic batch: z [N, latent] -> Gemm ->
Reshape [N, C, S, S] -> BatchNormalization (running statistics, eps 1e-5) -> Relu ->
[ConvTranspose 4x4 s2 p1 -> BatchNormalization -> Relu] x n -> ConvTranspose -> Tanh.
bench-peer.mjs checks in the browser that its output equals ganscope's for the same z.
Needs `pip install onnx==1.23.2` (numpy comes with it).
"""
import json
import math
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

BN_EPS = 1e-5  # ganscope_model::backend::BN_EPS


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    meta = json.loads(header.pop("__metadata__")["ganscope"])
    body = data[8 + n :]
    dtypes = {"F16": np.float16, "F32": np.float32}
    tensors = {}
    for name, t in header.items():
        a, b = t["data_offsets"]
        arr = np.frombuffer(body[a:b], dtype=dtypes[t["dtype"]]).reshape(t["shape"])
        tensors[name] = arr.astype(np.float32)
    return meta, tensors


def program_twin(g, w):
    """A standard layer-program generator (an import, e.g. the face GAN) op by op."""
    if g["constant_input"] or any(b["blocks"] != 1 for b in g["buckets"]):
        sys.exit("the twin covers standard generators (one block per bucket, latent input)")
    nodes, inits = [], []
    counter = [0]

    def fresh():
        counter[0] += 1
        return f"t{counter[0]}"

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def node(op, ins, **attrs):
        out = fresh()
        nodes.append(helper.make_node(op, ins, [out], **attrs))
        return out

    def chain(x, ops, p, shape):
        for k, op in enumerate(ops):
            q = f"{p}.{k}"
            kind = op["op"]
            if kind in ("conv", "conv_transpose"):
                ins = [x, const(f"{q}.weight", w[f"{q}.weight"])]
                if op["bias"]:
                    ins.append(const(f"{q}.bias", w[f"{q}.bias"]))
                kk, st, pd = op["kernel"], op["stride"], op["padding"]
                x = node("ConvTranspose" if kind == "conv_transpose" else "Conv", ins,
                         kernel_shape=[kk, kk], strides=[st, st], pads=[pd] * 4)
            elif kind == "batch_norm":
                x = node("BatchNormalization", [x] + [const(f"{q}.{s}", w[f"{q}.{s}"]) for s in
                         ("weight", "bias", "running_mean", "running_var")], epsilon=BN_EPS)
            elif kind in ("relu", "tanh", "sigmoid"):
                x = node({"relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid"}[kind], [x])
            elif kind == "leaky_relu":
                x = node("LeakyRelu", [x], alpha=op["slope"])
            elif kind == "dense":
                f = node("Flatten", [x], axis=1)
                ins = [f, const(f"{q}.weight", w[f"{q}.weight"])]
                if op["bias"]:
                    ins.append(const(f"{q}.bias", w[f"{q}.bias"]))
                y = node("Gemm", ins, transB=1)
                x = node("Reshape", [y, const(fresh(), np.array([-1, op["out"], 1, 1], np.int64))])
            elif kind == "reshape":
                x = node("Reshape", [x, const(fresh(), np.array([-1] + op["shape"], np.int64))])
            elif kind == "upsample":
                scales = const(fresh(), np.array([1, 1, 2, 2], np.float32))
                mode = {"nearest": dict(mode="nearest", nearest_mode="floor", coordinate_transformation_mode="asymmetric"),
                        "bilinear": dict(mode="linear", coordinate_transformation_mode="half_pixel")}[op["mode"]]
                x = node("Resize", [x, "", scales], **mode)
            elif kind == "residual":
                m = chain(x, op["main"], f"{q}.main", shape)
                sc = chain(x, op["shortcut"], f"{q}.shortcut", shape) if op["shortcut"] else x
                x = node("Add", [m, sc])
            else:
                sys.exit(f"op {kind} has no ONNX twin here")
        return x

    x = node("Reshape", ["z", const("latent_shape", np.array([-1, g["latent_dim"], 1, 1], np.int64))])
    for i, layer in enumerate(g["program"]):
        x = chain(x, layer, f"g.bucket{i + 1}.block0.layer{i + 1}", None)
    nodes.append(helper.make_node("Identity", [x], ["images"]))
    return nodes, inits


def twin(meta, w):
    g = meta["generator"]
    if g["family"] == "program":
        nodes, inits = program_twin(g, w)
        return finish(g, nodes, inits)
    if g["family"] != "dcgan" or g["constant_input"] or any(b["blocks"] != 1 for b in g["buckets"]):
        sys.exit("the twin covers standard dcgan generators (one block per bucket, latent input)")
    prefixes = sorted(
        {k.rsplit(".", 2)[0] for k in w if k.startswith("g.") and ".layer" in k},
        key=lambda p: int(p.rsplit("layer", 1)[1]),
    )
    nodes, inits = [], []

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def bn_relu(x, p, out):
        ins = [x] + [const(f"{p}.bn.{s}", w[f"{p}.bn.{s}"]) for s in ("weight", "bias", "running_mean", "running_var")]
        nodes.append(helper.make_node("BatchNormalization", ins, [out + "_bn"], epsilon=BN_EPS))
        nodes.append(helper.make_node("Relu", [out + "_bn"], [out]))
        return out

    x = "z"
    for i, p in enumerate(prefixes):
        last = i + 1 == len(prefixes)
        if i == 0:
            lw = w[f"{p}.linear.weight"]  # [C*S*S, latent]
            c = w[f"{p}.bn.weight"].shape[0]
            start = math.isqrt(lw.shape[0] // c)
            nodes.append(helper.make_node("Gemm", [x, const(f"{p}.linear.weight", lw), const(f"{p}.linear.bias", w[f"{p}.linear.bias"])], ["h0_lin"], transB=1))
            nodes.append(helper.make_node("Reshape", ["h0_lin", const("shape0", np.array([-1, c, start, start], np.int64))], ["h0_r"]))
            x = bn_relu("h0_r", p, "h0")
            continue
        conv = helper.make_node(
            "ConvTranspose",
            [x, const(f"{p}.conv.weight", w[f"{p}.conv.weight"]), const(f"{p}.conv.bias", w[f"{p}.conv.bias"])],
            [f"h{i}_conv"],
            kernel_shape=[4, 4], strides=[2, 2], pads=[1, 1, 1, 1],
        )
        nodes.append(conv)
        if last:
            nodes.append(helper.make_node("Tanh", [f"h{i}_conv"], ["images"]))
        else:
            x = bn_relu(f"h{i}_conv", p, f"h{i}")
    return finish(g, nodes, inits)


def finish(g, nodes, inits):
    size, ch = g["image_size"], g["channels"]
    graph = helper.make_graph(
        nodes, "ganscope_twin",
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", g["latent_dim"]])],
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", ch, size, size])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="ganscope onnx_twin")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    meta, w = read_safetensors(sys.argv[1])
    onnx.save(twin(meta, w), sys.argv[2])


if __name__ == "__main__":
    main()
