"""Trains two small seeded models on scikit-learn's 8x8 digits (offline, CPU) and exports them to ONNX with
calibration / evaluation splits as .npy, as test material for data-aware factorization (issue 13).

Splits (a seeded permutation of the 1797 images): train (1000, used only for training), then the remaining 797 split
into calibration (398) and evaluation (399), disjoint. Inputs are pixel values / 16 as float32, labels int64.

Output folder layout (default .cache/digits):
  mlp.onnx, cnn.onnx                       weights as initializers (do_constant_folding=True)
  mlp-unfolded.onnx, cnn-unfolded.onnx     the same models exported with do_constant_folding=False
  {mlp,cnn}/{train,calibration,evaluation}/input.npy, labels.npy
  summary.json                             held-out accuracies and parameter counts
"""
import argparse
import json
import os
import time

import numpy as np
import torch
import torch.nn as nn
from sklearn.datasets import load_digits

SEED = 0


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))

    def forward(self, x):
        return self.net(x)


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 1), nn.ReLU())
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(128 * 4 * 4, 128), nn.ReLU(), nn.Linear(128, 10))

    def forward(self, x):
        return self.head(self.features(x))


def train(model, x, y, epochs, lr):
    torch.manual_seed(SEED)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(SEED)
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=g)
        for start in range(0, len(x), 64):
            idx = order[start:start + 64]
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
    return model


def accuracy(model, x, y):
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def export(model, example, path, fold):
    torch.onnx.export(model, example, path, opset_version=13, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, do_constant_folding=fold)


def save_split(folder, x, y):
    os.makedirs(folder, exist_ok=True)
    np.save(os.path.join(folder, "input.npy"), np.ascontiguousarray(x, dtype=np.float32))
    np.save(os.path.join(folder, "labels.npy"), np.ascontiguousarray(y, dtype=np.int64))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=".cache/digits")
    args = parser.parse_args()
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    started = time.time()

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    perm = np.random.RandomState(SEED).permutation(len(x))
    splits = {"train": perm[:1000], "calibration": perm[1000:1398], "evaluation": perm[1398:]}
    assert not set(splits["calibration"]) & set(splits["evaluation"])

    os.makedirs(args.out, exist_ok=True)
    summary = {}
    for name, model, shape, epochs in (("mlp", Mlp(), (-1, 64), 40), ("cnn", Cnn(), (-1, 1, 8, 8), 15)):
        xt = torch.from_numpy(x[splits["train"]].reshape(shape))
        yt = torch.from_numpy(y[splits["train"]])
        train(model, xt, yt, epochs, 1e-3).eval()
        for split, idx in splits.items():
            save_split(os.path.join(args.out, name, split), x[idx].reshape(shape), y[idx])
        xe = torch.from_numpy(x[splits["evaluation"]].reshape(shape))
        ye = torch.from_numpy(y[splits["evaluation"]])
        xc = torch.from_numpy(x[splits["calibration"]].reshape(shape))
        yc = torch.from_numpy(y[splits["calibration"]])
        example = xe[:1]
        export(model, example, os.path.join(args.out, f"{name}.onnx"), True)
        export(model, example, os.path.join(args.out, f"{name}-unfolded.onnx"), False)
        summary[name] = {
            "parameters": sum(p.numel() for p in model.parameters()),
            "evaluation_accuracy": accuracy(model, xe, ye),
            "calibration_accuracy": accuracy(model, xc, yc),
            "train_accuracy": accuracy(model, xt, yt),
        }

    summary["seconds"] = round(time.time() - started, 1)
    summary["torch"] = torch.__version__
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
