"""PyTorch peer of `starword bench text`: the ViT-B/32 text tower (random weights) under inference_mode,
rows batched by length and cut at their longest EOT (the best a PyTorch pipeline does; HF pads to the
batch's longest row too), `scaled_dot_product_attention(is_causal=True)` where torch has it.

    /usr/bin/python3 bench/pytorch_text.py [--threads 2] [--compile] [--rounds 3] [--prompts 1536] [--len 9]

Prompt lengths as the vocabulary workload's (about 9 ids with SOT/EOT: "a photo of a {name}.").
Last line: `N prompts/s`.
"""
import argparse, os, sys, time
import torch
sys.path.insert(0, os.path.dirname(__file__))
from pytorch_clip import HAS_SDPA, Text, maybe_compile

p = argparse.ArgumentParser()
p.add_argument('--prompts', type=int, default=1536); p.add_argument('--len', type=int, default=9)
p.add_argument('--batch', type=int, default=768); p.add_argument('--threads', type=int, default=2)
p.add_argument('--compile', action='store_true'); p.add_argument('--rounds', type=int, default=3)
a = p.parse_args()
torch.set_num_threads(a.threads); torch.manual_seed(0)
ids = torch.randint(300, 40000, (a.prompts, a.len)); ids[:, 0] = 49406; ids[:, -1] = 49407
model, how = maybe_compile(Text(), a.compile)
rates = []
with torch.inference_mode():
    model(ids[:a.batch])
    for r in range(a.rounds):
        t = time.perf_counter()
        for s in range(0, a.prompts, a.batch): model(ids[s:s + a.batch])
        rates.append(a.prompts / (time.perf_counter() - t))
print(f"torch {torch.__version__}, threads {a.threads}, batch {a.batch}, {a.len} ids a prompt, {how}, {'sdpa' if HAS_SDPA else 'explicit attention'}")
print(f"{sorted(rates)[len(rates) // 2]:.1f} prompts/s")
