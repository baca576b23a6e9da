"""Checks that Hugging Face `tokenizers` encodes text exactly as our TypeScript BPE does.

usage: python scripts/hf_tokenizer_check.py TOKENIZER_JSON TEXT_FILE IDS_JSON
  IDS_JSON: the ids our `BpeTokenizer.encode` gave for TEXT_FILE's contents (a JSON list).
Needs `tokenizers` (PIP_RETRIES=0 pip install --retries 0 tokenizers).
"""
import json
import sys

from tokenizers import Tokenizer

tok = Tokenizer.from_file(sys.argv[1])
text = open(sys.argv[2], encoding="utf-8").read()
ours = json.load(open(sys.argv[3]))
theirs = tok.encode(text).ids
same = theirs == ours
print(f"tokens: ours {len(ours)}, tokenizers {len(theirs)}; identical: {same}; decode round trip: {tok.decode(theirs) == text}")
sys.exit(0 if same else 1)
