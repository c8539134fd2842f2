#!/usr/bin/python3
"""Golden values for the losses of the paper's baselines (tests/nn/test_losses.c), from PyTorch:

  /usr/bin/python3 tests/golden/make_loss_golden.py

writes losses_golden.bin (the EOSGOLD1 format of make_resnet_golden.py): random logits (24 x 10)
with extreme rows (|logit| 50-95), labels, the class-balanced weights of Cui et al. (beta 0.9999,
CIFAR-10-LT counts, normalised to sum to the number of classes), and the loss and d loss / d logits
of: weighted cross-entropy (F.cross_entropy with weight); focal loss as LDAM-DRW implements it
(gamma 2, with and without the weights); ASL single-label (Ridnik et al.: gamma_pos 0,
gamma_neg 4, label smoothing 0.1).
"""
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))


def focal(logits, y, weight, gamma):
    # LDAM-DRW's FocalLoss: focal_loss(F.cross_entropy(x, y, reduction='none', weight=w), gamma)
    ce = F.cross_entropy(logits, y, reduction="none", weight=weight)
    p = torch.exp(-ce)
    return ((1 - p) ** gamma * ce).mean()


def asl_single(logits, y, gamma_pos=0.0, gamma_neg=4.0, eps=0.1):
    # ASLSingleLabel (Ridnik et al.), reduction mean
    C = logits.shape[1]
    log_preds = F.log_softmax(logits, dim=-1)
    targets = torch.zeros_like(logits).scatter_(1, y.unsqueeze(1), 1)
    anti = 1 - targets
    xs_pos = torch.exp(log_preds) * targets
    xs_neg = (1 - torch.exp(log_preds)) * anti
    w = torch.pow(1 - xs_pos - xs_neg, gamma_pos * targets + gamma_neg * anti)
    log_preds = log_preds * w
    t = targets * (1 - eps) + eps / C
    return -(t * log_preds).sum(dim=-1).mean()


def main():
    g = torch.Generator().manual_seed(3)
    N, C = 24, 10
    z = torch.randn(N, C, generator=g) * 3
    z[0, 0] = 80.0
    z[1, 3] = -95.0
    z[2] = torch.linspace(-60, 60, C)
    z[3, 7] = 55.0
    y = torch.randint(0, C, (N,), generator=g)
    y[3] = 7
    y[2] = 0
    counts = np.array([5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50], dtype=np.float64)
    beta = 0.9999
    w = (1 - beta) / (1 - np.power(beta, counts))
    w = w / w.sum() * C
    weight = torch.tensor(w, dtype=torch.float32)
    out = [("logits", z), ("labels", y.float()), ("cb_weights", weight)]
    for name, fn in [("ce_w", lambda a: F.cross_entropy(a, y, weight=weight)),
                     ("focal", lambda a: focal(a, y, None, 2.0)),
                     ("focal_w", lambda a: focal(a, y, weight, 2.0)),
                     ("asl", lambda a: asl_single(a, y))]:
        a = z.clone().requires_grad_(True)
        loss = fn(a)
        loss.backward()
        out.append((name + ".loss", loss.detach().reshape(1)))
        out.append((name + ".grad", a.grad.detach().clone()))
        print(f"{name}: loss {loss.item():.6f}, finite grad {bool(torch.isfinite(a.grad).all())}")
    with open(os.path.join(HERE, "losses_golden.bin"), "wb") as f:
        f.write(b"EOSGOLD1")
        f.write(struct.pack("<II", 1, len(out)))
        for name, t in out:
            t = t.float().contiguous()
            f.write(struct.pack("<I", len(name)) + name.encode())
            f.write(struct.pack("<I", t.dim()) + b"".join(struct.pack("<I", d) for d in t.shape))
            f.write(t.numpy().tobytes())


if __name__ == "__main__":
    main()
