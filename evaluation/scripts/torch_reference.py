"""PyTorch reference outputs for reef's correctness check (`reef bench models`).

Builds the torchvision or HuggingFace model, loads the exact weights reef used (a safetensors file
in PyTorch naming, written by `reef compile --save-weights`), runs the given input in float64 on the
GPU (no TF32, no reduced precision anywhere), and writes each output as raw little-endian float64.

Usage: python3 torch_reference.py --model resnet50 --weights w.safetensors --input x.bin
       --shape 1,3,224,224 --dtype float32|int32 --out DIR
Writes DIR/<output>.bin for each output (output, and pooler_output for bert_base) and prints a
JSON line with their shapes and the load report (missing/unexpected state_dict keys).
"""
import argparse
import json
import os

import numpy as np
import safetensors.torch
import torch
import torchvision
import transformers

TORCHVISION = {
    "vgg19": lambda: torchvision.models.vgg19(),
    "resnet18": lambda: torchvision.models.resnet18(),
    "resnet50": lambda: torchvision.models.resnet50(),
    "resnet152": lambda: torchvision.models.resnet152(),
    "densenet201": lambda: torchvision.models.densenet201(),
    "inception_v3": lambda: torchvision.models.inception_v3(
        aux_logits=False, init_weights=False, transform_input=False),
    "mobilenet_v2": lambda: torchvision.models.mobilenet_v2(),
}


def build(name):
    if name in TORCHVISION:
        return TORCHVISION[name]()
    if name == "bert_base":
        return transformers.BertModel(transformers.BertConfig())
    if name == "distilbert":
        return transformers.DistilBertModel(transformers.DistilBertConfig())
    raise SystemExit(f"torch_reference.py: unknown model {name!r}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--weights", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--shape", required=True)
    parser.add_argument("--dtype", choices=["float32", "int32"], required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False

    model = build(args.model)
    state = safetensors.torch.load_file(args.weights)
    report = model.load_state_dict(state, strict=False)
    # Buffers that reef does not store (HF's position_ids) may be missing; nothing else may.
    missing = [k for k in report.missing_keys if not k.endswith("position_ids")]
    if missing or report.unexpected_keys:
        raise SystemExit(f"torch_reference.py: weights do not match {args.model}: "
                         f"missing {missing[:5]}, unexpected {report.unexpected_keys[:5]}")
    model = model.eval().cuda().double()

    shape = [int(s) for s in args.shape.split(",")]
    raw = np.fromfile(args.input, dtype=np.float32 if args.dtype == "float32" else np.int32)
    x = torch.from_numpy(raw.reshape(shape)).cuda()
    with torch.inference_mode():
        if args.dtype == "float32":
            outputs = {"output": model(x.double())}
        else:
            result = model(input_ids=x.long())
            outputs = {"output": result.last_hidden_state}
            if getattr(result, "pooler_output", None) is not None:
                outputs["pooler_output"] = result.pooler_output
    os.makedirs(args.out, exist_ok=True)
    shapes = {}
    for name, value in outputs.items():
        value.detach().cpu().numpy().astype("<f8").tofile(os.path.join(args.out, f"{name}.bin"))
        shapes[name] = list(value.shape)
    print(json.dumps({"model": args.model, "outputs": shapes,
                      "ignored_missing": report.missing_keys}))


if __name__ == "__main__":
    main()
