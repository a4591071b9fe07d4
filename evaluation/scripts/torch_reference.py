"""PyTorch reference outputs for reef's correctness check (`reef bench models`).

Builds the torchvision or HuggingFace model, loads the exact weights reef used (a safetensors file
in PyTorch naming, written by `reef compile --save-weights`), runs the given input in float64 on the
GPU (no TF32, no reduced precision anywhere), and writes each output as raw little-endian float64.

Usage: python3 torch_reference.py JOBS.json
JOBS.json is a list of {"model", "weights" (safetensors path), "input" (raw little-endian file),
"shape" (list), "dtype" ("float32" images, NCHW, or "int32" token ids), "out" (folder)}. One process
serves every job, so torch is imported once. For each job it writes out/<output>.bin (output, and
pooler_output for bert_base) and prints a JSON line with the model and its output shapes.
"""
import json
import os
import sys

import numpy as np
import safetensors.torch
import torch

from zoo import build

def run(job):
    model = build(job["model"])
    state = safetensors.torch.load_file(job["weights"])
    report = model.load_state_dict(state, strict=False)
    # Buffers that reef does not store (HF's position_ids) may be missing; nothing else may.
    missing = [k for k in report.missing_keys if not k.endswith("position_ids")]
    if missing or report.unexpected_keys:
        raise SystemExit(f"torch_reference.py: weights do not match {job['model']}: "
                         f"missing {missing[:5]}, unexpected {report.unexpected_keys[:5]}")
    model = model.eval().cuda().double()
    raw = np.fromfile(job["input"], dtype=np.float32 if job["dtype"] == "float32" else np.int32)
    x = torch.from_numpy(raw.reshape(job["shape"])).cuda()
    with torch.inference_mode():
        if job["dtype"] == "float32":
            outputs = {"output": model(x.double())}
        else:
            result = model(input_ids=x.long())
            outputs = {"output": result.last_hidden_state}
            if getattr(result, "pooler_output", None) is not None:
                outputs["pooler_output"] = result.pooler_output
    os.makedirs(job["out"], exist_ok=True)
    shapes = {}
    for name, value in outputs.items():
        value.detach().cpu().numpy().astype("<f8").tofile(os.path.join(job["out"], f"{name}.bin"))
        shapes[name] = list(value.shape)
    print(json.dumps({"model": job["model"], "outputs": shapes}), flush=True)
    del model, state
    torch.cuda.empty_cache()


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: torch_reference.py JOBS.json")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    with open(sys.argv[1]) as f:
        for job in json.load(f):
            run(job)


if __name__ == "__main__":
    main()
