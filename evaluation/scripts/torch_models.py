"""PyTorch + cuDNN baseline for `reef bench models`: the GPU time of one inference of each zoo
model with CUDA-graph replay, at a batch size and precision, measured with CUDA events.

Usage: python3 torch_models.py --models resnet50,vgg19 [--batch 1] [--precision float16]
       [--replays 200] [--repeats 5]
Prints one JSON object: {"device", "torch", "cudnn", "precision", "batch", "models": {name: {"ms_p50",
"ms_min", "ms_p90", "kernels"}}}. Weights are random (timing does not depend on their values).
"""
import argparse
import json
import statistics

import torch

from zoo import IMAGE_SIZE, SEQUENCE, TORCHVISION, build


def build_with_input(name):
    """The model and a maker of random inputs of a batch size."""
    model = build(name)
    if name in TORCHVISION:
        size = IMAGE_SIZE.get(name, 224)
        return model, lambda batch: torch.randn(batch, 3, size, size)
    vocab = model.config.vocab_size
    return model, lambda batch: torch.randint(0, vocab, (batch, SEQUENCE))


def count_kernels(model, x):
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        model(x)
        torch.cuda.synchronize()
    return sum(1 for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA)


def time_model(name, batch, dtype, replays, repeats):
    model, make_input = build_with_input(name)
    model = model.eval().cuda().to(dtype)
    x = make_input(batch).cuda()
    if x.is_floating_point():
        x = x.to(dtype)
    with torch.inference_mode():
        kernels = count_kernels(model, x)
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(3):
                model(x)
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            model(x)
        for _ in range(10):
            graph.replay()
        times = []
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        for _ in range(repeats):
            for _ in range(replays):
                start.record()
                graph.replay()
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end))
    times.sort()
    return {
        "ms_p50": statistics.median(times),
        "ms_min": times[0],
        "ms_p90": times[int(0.9 * (len(times) - 1))],
        "kernels": kernels,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", required=True)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--precision", choices=["float16", "float32"], default="float16")
    parser.add_argument("--replays", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.backends.cudnn.benchmark = True
    dtype = torch.float16 if args.precision == "float16" else torch.float32
    results = {name: time_model(name, args.batch, dtype, args.replays, args.repeats)
               for name in args.models.split(",")}
    print(json.dumps({
        "device": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "cudnn": torch.backends.cudnn.version(),
        "precision": args.precision,
        "batch": args.batch,
        "models": results,
    }))


if __name__ == "__main__":
    main()
