"""Checks that a BLT saved by this project loads in Hugging Face transformers and gives the same logits.

usage:
  deno run -A scripts/hf_interop_export.ts /tmp/blt-interop   # writes model + inputs + our logits
  python scripts/hf_interop_check.py /tmp/blt-interop         # loads it with BltForCausalLM, compares

Needs torch, transformers==5.18 and safetensors (pip from the local mirror:
  PIP_RETRIES=0 pip install --retries 0 torch==2.13.0+cpu transformers==5.18.0 safetensors numpy).
Exits non-zero when the max abs logit difference exceeds 1e-4 or patch lengths differ.
"""
import json, sys
import torch
from safetensors.torch import load_file
from transformers import BltForCausalLM, BltPatcher

root = sys.argv[1]
cases = json.load(open(f"{root}/cases.json"))
ours = load_file(f"{root}/our_logits.safetensors")
model = BltForCausalLM.from_pretrained(f"{root}/blt", attn_implementation="eager").eval()
worst = 0.0
ok = True
with torch.no_grad():
    for i, case in enumerate(cases):
        ids = torch.tensor([case["ids"]])
        given = torch.tensor([case["patch_lengths"]])
        out = model(input_ids=ids, patch_lengths=given, use_cache=False)
        d = (out.logits[0] - ours[f"case{i}.logits"]).abs().max().item()
        # The model's own patching: HF's patcher with the saved threshold must cut the same patches.
        _, hf_lengths, _ = model.model.patcher(
            ids, patch_size=model.config.patch_size, threshold=model.config.patching_threshold,
            max_patch_length=model.config.max_patch_length)
        same = hf_lengths[0].tolist() == case["own_patch_lengths"]
        own = model(input_ids=ids, use_cache=False).logits[0]
        do = (own - ours[f"case{i}.own_logits"]).abs().max().item()
        print(f"case {i}: T={ids.shape[1]} max|logits diff| given patches {d:.2e}, "
              f"own entropy patching {do:.2e} (patch lengths identical: {same})")
        worst = max(worst, d, do)
        ok = ok and same
    patcher = BltPatcher.from_pretrained(f"{root}/patcher").eval()
    p = patcher(input_ids=torch.tensor([cases[0]["ids"]]))[2][0]
    dp = (p - ours["patcher.logits"]).abs().max().item()
    print(f"standalone patcher: max|logits diff| = {dp:.2e}")
    worst = max(worst, dp)
print(f"worst {worst:.2e}")
sys.exit(0 if ok and worst <= 1e-4 else 1)
