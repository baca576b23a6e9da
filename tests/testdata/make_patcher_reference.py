"""Writes patcher_reference.json: the official facebookresearch/blt patcher functions run on
seeded random entropies and byte ids, the oracle for tests/patching/reference_test.ts.

Run: python tests/testdata/make_patcher_reference.py <facebookresearch/blt checkout>
(torch 2.13 CPU; the functions are taken from bytelatent/data/patcher.py by name, so its heavy
imports, the entropy model and distributed helpers, are not needed)."""
import ast
import json
import math
import pathlib
import sys

import torch

source = pathlib.Path(sys.argv[1], "bytelatent/data/patcher.py").read_text()
wanted = {
    "patch_start_mask_from_entropy_with_monotonicity",
    "patch_start_mask_global_and_monotonicity",
    "patch_start_ids_from_patch_start_mask",
    "check_non_zero_after_zero",
    "patch_lengths_from_start_ids",
    "find_space_patch_start_ids",
    "find_entropy_patch_start_ids",
    "split_large_numbers",
    "rightpad",
}
module = ast.parse(source)
module.body = [n for n in module.body if isinstance(n, ast.FunctionDef) and n.name in wanted]
ref = {"torch": torch, "OFFSET": 4, "math": math}
exec(compile(module, "patcher.py", "exec"), ref)


def entropy_lengths(h, include_next, **rule):
    scores = torch.tensor([h], dtype=torch.float32)
    starts = ref["find_entropy_patch_start_ids"](scores, include_next_token=include_next, **rule)
    return trimmed(ref["patch_lengths_from_start_ids"](starts, len(h) + include_next))


def space_lengths(ids, include_next):
    starts = ref["find_space_patch_start_ids"](torch.tensor([ids]))
    return trimmed(ref["patch_lengths_from_start_ids"](starts, len(ids) + include_next))


def trimmed(lengths):
    # Patcher.patch drops trailing zero columns (a start at the next-token slot without it).
    out = lengths[0].tolist()
    while out and out[-1] == 0:
        out.pop()
    return out


gen = torch.Generator().manual_seed(0)
cases = []
for k in range(60):
    T = int(torch.randint(3, 40, (1,), generator=gen))
    # Values on a 1/4 grid, exact in float32, so ties and equal neighbours occur.
    h = (torch.randint(0, 13, (T,), generator=gen).float() / 4).tolist()
    theta = float(torch.randint(0, 12, (1,), generator=gen)) / 4 + 0.125 * (k % 2)
    rel = float(torch.randint(-2, 6, (1,), generator=gen)) / 4
    for include_next in (False, True):
        cases.append({
            "entropies": h,
            "includeNextToken": include_next,
            "threshold": theta,
            "relativeThreshold": rel,
            "global": entropy_lengths(h, include_next, threshold=theta),
            "monotonic": entropy_lengths(h, include_next, threshold=rel, monotonicity=True),
            "combined": entropy_lengths(h, include_next, threshold=theta, threshold_add=rel),
        })

alphabet = [c + 4 for c in b"ab Z9 .,\n-_"] + [0xC3 + 4, 0xA9 + 4, 0xE6 + 4, 0x97 + 4, 2, 3]
space = []
for k in range(40):
    T = int(torch.randint(1, 30, (1,), generator=gen))
    body = [alphabet[int(i)] for i in torch.randint(0, len(alphabet), (T - 1,), generator=gen)]
    ids = [1] + body
    for include_next in (False, True):
        space.append({"ids": ids, "includeNextToken": include_next, "lengths": space_lengths(ids, include_next)})

split = []
for k in range(20):
    lengths = torch.randint(1, 20, (int(torch.randint(1, 10, (1,), generator=gen)),), generator=gen).tolist()
    m = int(torch.randint(1, 8, (1,), generator=gen))
    split.append({"lengths": lengths, "maxPatchLength": m, "split": ref["split_large_numbers"](lengths, m)})

out = pathlib.Path(__file__).with_name("patcher_reference.json")
out.write_text(json.dumps({"entropy": cases, "space": space, "split": split}) + "\n")
print(f"wrote {out}: {len(cases)} entropy, {len(space)} space, {len(split)} split cases")
