#!/usr/bin/env python3
"""The PyTorch peer of `workbench bench-fer`: the same two networks (mini-Xception as in the
Python `fer` library, and the VGG-style CNN of src/fer/model.rs), the same shapes and batch sizes,
random inputs. Prints img/s so the two can be compared on one machine, back to back.

    pip install torch            # CPU is enough
    python3 benches/fer_pytorch.py --threads 2
    target/release/workbench bench-fer
"""
import argparse
import time

import torch
from torch import nn


class SeparableConv(nn.Sequential):
    def __init__(self, cin, cout):
        super().__init__(
            nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False),
            nn.Conv2d(cin, cout, 1, bias=False),
        )


class XceptionModule(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=2, bias=False), nn.BatchNorm2d(cout, eps=1e-3))
        self.body = nn.Sequential(
            SeparableConv(cin, cout), nn.BatchNorm2d(cout, eps=1e-3), nn.ReLU(),
            SeparableConv(cout, cout), nn.BatchNorm2d(cout, eps=1e-3),
            nn.MaxPool2d(3, stride=2, padding=1),
        )

    def forward(self, x):
        return self.body(x) + self.shortcut(x)


class MiniXception(nn.Module):
    def __init__(self, base=8):
        super().__init__()
        w = [base, base * 2, base * 4, base * 8, base * 16]
        self.stem = nn.Sequential(
            nn.Conv2d(1, base, 3, bias=False), nn.BatchNorm2d(base, eps=1e-3), nn.ReLU(),
            nn.Conv2d(base, base, 3, bias=False), nn.BatchNorm2d(base, eps=1e-3), nn.ReLU(),
        )
        self.blocks = nn.Sequential(*[XceptionModule(a, b) for a, b in zip(w, w[1:])])
        self.head = nn.Conv2d(w[-1], 7, 3, padding=1)

    def forward(self, x):
        return self.head(self.blocks(self.stem(x))).mean(dim=(2, 3))


def conv_bn_relu(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout, eps=1e-3), nn.ReLU()]


class Vgg(nn.Module):
    def __init__(self, channels=(32, 64, 128, 256), dropout=0.5):
        super().__init__()
        layers, cin = [], 1
        for c in channels:
            layers += conv_bn_relu(cin, c) + conv_bn_relu(c, c) + [nn.MaxPool2d(2)]
            cin = c
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(3), nn.Flatten())
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(cin * 9, 256), nn.ReLU(), nn.Dropout(dropout), nn.Linear(256, 7))

    def forward(self, x):
        return self.head(self.features(x))


def params_with_bn_stats(model):
    n = sum(p.numel() for p in model.parameters())
    return n + sum(b.numel() for name, b in model.named_buffers() if name.endswith(("running_mean", "running_var")))


def train_rate(model, side, batches):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    labels = torch.arange(64) % 7
    model.train()

    def step():
        x = torch.rand(64, 1, side, side) * 2 - 1
        loss = loss_fn(model(x), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss.item()

    step()
    start = time.perf_counter()
    for _ in range(batches):
        step()
    return batches * 64 / (time.perf_counter() - start)


@torch.no_grad()
def infer_speed(model, n, side, seconds):
    """(images per second, milliseconds per batch) at batch size n."""
    model.eval()
    x = torch.rand(n, 1, side, side) * 2 - 1
    model(x)
    start, passes = time.perf_counter(), 0
    while time.perf_counter() - start < seconds or passes == 0:
        model(x).numpy()
        passes += 1
    elapsed = time.perf_counter() - start
    return passes * n / elapsed, 1e3 * elapsed / passes


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--input-size", type=int, default=48)
    ap.add_argument("--train-batches", type=int, default=10)
    ap.add_argument("--infer-seconds", type=float, default=3.0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    batches = (1, 16, 64)  # as `workbench bench-fer`
    print(f"{'model':<28} {'input':>5} {'params':>10} {'train img/s@64':>14}"
          + "".join(f" {f'infer@{n} img/s (ms)':>19}" for n in batches))
    for name, model in [("mini_xception (pytorch)", MiniXception()), ("vgg (pytorch)", Vgg())]:
        s = args.input_size
        train = train_rate(model, s, args.train_batches)
        speeds = [infer_speed(model, n, s, args.infer_seconds) for n in batches]
        print(f"{name:<28} {s:>5} {params_with_bn_stats(model):>10} {train:>14.1f}"
              + "".join(f" {f'{rate:.1f} ({ms:.2f})':>19}" for rate, ms in speeds))
    print(f"backend: torch {torch.__version__} CPU, {args.threads} threads")


if __name__ == "__main__":
    main()
