"""Writes adamw_torch.json: PyTorch's clip_grad_norm_ + AdamW on fixed gradients, the oracle for
tests/train/adamw_test.ts. Run: python tests/testdata/make_adamw_torch.py (torch 2.13, CPU)."""
import json
import torch

torch.manual_seed(0)
w = torch.nn.Parameter(torch.randn(3, 4))
b = torch.nn.Parameter(torch.randn(4))
init = {"w": w.detach().flatten().tolist(), "b": b.detach().flatten().tolist()}
opt = torch.optim.AdamW(
    [{"params": [w], "weight_decay": 0.1}, {"params": [b], "weight_decay": 0.0}],
    lr=1e-2, betas=(0.9, 0.95), eps=1e-8,
)
lrs = [1e-2, 5e-3, 2e-2, 1e-3, 1e-2]
steps = []
for lr in lrs:
    gw = torch.randn(3, 4) * 2
    gb = torch.randn(4) * 2
    w.grad, b.grad = gw.clone(), gb.clone()
    norm = torch.nn.utils.clip_grad_norm_([w, b], max_norm=1.0)
    for group in opt.param_groups:
        group["lr"] = lr
    opt.step()
    steps.append({
        "lr": lr,
        "grad_w": gw.flatten().tolist(),
        "grad_b": gb.flatten().tolist(),
        "norm": norm.item(),
        "w": w.detach().flatten().tolist(),
        "b": b.detach().flatten().tolist(),
    })
out = {
    "generator": "tests/testdata/make_adamw_torch.py, torch " + torch.__version__,
    "betas": [0.9, 0.95], "eps": 1e-8, "weight_decay": {"w": 0.1, "b": 0.0}, "max_norm": 1.0,
    "shapes": {"w": [3, 4], "b": [4]}, "init": init, "steps": steps,
}
with open(__file__.replace("make_adamw_torch.py", "adamw_torch.json"), "w") as f:
    json.dump(out, f)
