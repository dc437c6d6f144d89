"""PyTorch peer of `starword bench oti`: the same workload, side by side on this machine.

SEARLE runs OTI in PyTorch eager with HF's CLIPTextModel; this is that computation written out in plain
torch (transformers is not installed here): random weights with CLIP ViT-B/32 text dims, a batch of
images, template `<sot> a photo of $ <eot>` (6 ids) and one 25-id phrase with `$` at position 4,
L_cos + 0.5*L_gpt, gradient w.r.t. v* only, AdamW. `--pad77` pads every row to 77 as SEARLE does.

    python3 bench/pytorch_oti.py [--pad77] [--threads 2] [--steps 4] [--compile] [--device cuda] [--amp]

On a GPU (`--device cuda`), SEARLE's own way is `--pad77 --amp` (its oti_inversion.py runs the step under
`torch.cuda.amp.autocast` with a GradScaler, rows padded to 77); the best way is SDPA, the EOT cut and `--compile`.

Attention goes through `scaled_dot_product_attention(is_causal=True)` where the torch has it (2.0 on);
`--compile` wraps the loss in `torch.compile`. Any torch: pip's torch 2.x in a virtual environment, or
Debian's (`apt-get install python3-torch libopenblas0-pthread`: without OpenBLAS it runs on the
reference BLAS, about 50x slower). Last line: `N image-steps/s`.
"""
import argparse, time
import torch
import torch.nn.functional as F
import os, sys
sys.path.insert(0, os.path.dirname(__file__))
from pytorch_clip import HAS_SDPA, block, maybe_compile

p = argparse.ArgumentParser()
p.add_argument('--width', type=int, default=512); p.add_argument('--layers', type=int, default=12)
p.add_argument('--heads', type=int, default=8); p.add_argument('--batch', type=int, default=32)
p.add_argument('--phrase-len', type=int, default=25); p.add_argument('--dollar-pos', type=int, default=4)
p.add_argument('--steps', type=int, default=4); p.add_argument('--warmup', type=int, default=1)
p.add_argument('--threads', type=int, default=2); p.add_argument('--pad77', action='store_true')
p.add_argument('--compile', action='store_true')
p.add_argument('--device', default='cpu', help='cpu or cuda'); p.add_argument('--amp', action='store_true', help='fp16 autocast + GradScaler (SEARLE on a GPU)')
a = p.parse_args()
DEV = torch.device(a.device)
def sync():
    if DEV.type == 'cuda': torch.cuda.synchronize()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
W, L, H, B, V, CTX = a.width, a.layers, a.heads, a.batch, 49408, 77
MLP, P = 4 * W, W

def rnd(*s, std=0.02): return (torch.randn(*s) * std).to(DEV)
tok = rnd(V, W); pos = rnd(CTX, W, std=0.01)
def ones(n): return torch.ones(n, device=DEV)
def zeros(n): return torch.zeros(n, device=DEV)
layers = [dict(ln1=(ones(W), zeros(W)), ln2=(ones(W), zeros(W)),
               q=(rnd(W, W), rnd(W)), k=(rnd(W, W), rnd(W)), v=(rnd(W, W), rnd(W)), o=(rnd(W, W), rnd(W)),
               fc1=(rnd(MLP, W), rnd(MLP)), fc2=(rnd(W, MLP), rnd(W))) for _ in range(L)]
lnf = (ones(W), zeros(W)); proj = rnd(P, W)

def text(ids, v):
    """HF CLIPTextModel + text_projection, with v replacing the embedding of the first `$` (259)."""
    x = tok[ids]
    first = (ids == 259).float().cumsum(1).eq(1) & (ids == 259)
    x = torch.where(first.unsqueeze(-1), v.unsqueeze(1).expand_as(x), x)
    T = ids.shape[1]
    x = x + pos[:T]
    for l in layers:
        x = block(x, l, H, causal=True)
    x = F.layer_norm(x, (W,), *lnf)
    eot = ids.argmax(-1)
    return x[torch.arange(x.shape[0], device=DEV), eot] @ proj.t()

def row(ids):
    if a.pad77: ids = ids + [0] * (CTX - len(ids))
    return ids
template = row([49406, 320, 1125, 539, 259, 49407])
g = torch.Generator().manual_seed(1)
mid = [259 if i == a.dollar_pos else 300 + int(torch.randint(40000, (1,), generator=g)) for i in range(1, a.phrase_len - 1)]
phrase = row([49406] + mid + [49407])
tpl = torch.tensor([template] * B, device=DEV); phr = torch.tensor([phrase] * B, device=DEV)


def loss_of(v):
    if not a.amp: return loss_body(v)
    with torch.autocast(DEV.type, dtype=torch.float16):
        return loss_body(v)

def loss_body(v):
    lcos = 1 - F.cosine_similarity(text(tpl, v), image).mean()
    lgpt = 1 - F.cosine_similarity(text(phr, v), target).mean()
    return (lcos + 0.5 * lgpt) / 1.5


loss_fn, how = maybe_compile(loss_of, a.compile)
image = torch.randn(B, P, device=DEV); target = torch.randn(B, P, device=DEV)
v = (torch.randn(B, W, device=DEV) * 0.02).requires_grad_(True)
opt = torch.optim.AdamW([v], lr=2e-2, weight_decay=0.01)
scaler = torch.amp.GradScaler(DEV.type, enabled=a.amp) if hasattr(torch, 'amp') and hasattr(torch.amp, 'GradScaler') else torch.cuda.amp.GradScaler(enabled=a.amp)
ema = v.detach().clone()
times = []
for s in range(a.warmup + a.steps):
    t = time.perf_counter()
    opt.zero_grad()
    loss = loss_fn(v)
    scaler.scale(loss).backward(); scaler.step(opt); scaler.update()
    with torch.no_grad(): ema.mul_(0.99).add_(v.detach(), alpha=0.01)
    sync()
    if s >= a.warmup: times.append(time.perf_counter() - t)
times.sort()
med = times[len(times) // 2]
print(f"torch {torch.__version__}, device {torch.cuda.get_device_name(0) if DEV.type == 'cuda' else 'cpu'}{', amp fp16' if a.amp else ''}, threads {a.threads}, batch {B}, {'padded to 77' if a.pad77 else 'cut at EOT'}, {how}, {'sdpa' if HAS_SDPA else 'explicit attention'}")
print(f"step median {med * 1000:.0f} ms (steps: {', '.join(f'{x * 1000:.0f}' for x in times)})")
print(f"{B / med:.2f} image-steps/s")
