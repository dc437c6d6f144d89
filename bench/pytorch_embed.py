"""PyTorch peer of `starword bench embed`: decode JPEGs with PIL, SEARLE's targetpad, torchvision's
bicubic resize (PIL) and centre crop, normalise, then the ViT-B/32 vision tower (random weights), batch 32,
under inference_mode; decoding in a DataLoader with `--workers` processes when asked, as SEARLE's scripts do.

    /usr/bin/python3 bench/pytorch_embed.py IMAGE_DIR [--threads 2] [--workers 0] [--compile] [--rounds 3]

IMAGE_DIR: e.g. the images `starword bench embed` generated (its cache folder, bench-images/).
Prints decode-only, forward-only and whole images/s; last line: `N images/s` (whole, median of rounds).
"""
import argparse, os, sys, time
import torch
from PIL import Image
sys.path.insert(0, os.path.dirname(__file__))
from pytorch_clip import HAS_SDPA, Vision, maybe_compile

MEAN = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(3, 1, 1)
STD = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(3, 1, 1)


def targetpad(img, ratio=1.25, size=224):
    w, h = img.size
    if max(w, h) / min(w, h) >= ratio:
        hp, vp = max(int((max(w, h) / ratio - w) / 2), 0), max(int((max(w, h) / ratio - h) / 2), 0)
        canvas = Image.new('RGB', (w + 2 * hp, h + 2 * vp)); canvas.paste(img, (hp, vp)); img = canvas
    w, h = img.size
    s = size / min(w, h)
    img = img.resize((max(size, int(w * s)) if w >= h else size, max(size, int(h * s)) if h > w else size), Image.BICUBIC)
    w, h = img.size
    l, t = round((w - size) / 2), round((h - size) / 2)
    img = img.crop((l, t, l + size, t + size))
    x = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8).view(size, size, 3).permute(2, 0, 1).float() / 255
    return (x - MEAN) / STD


class Files(torch.utils.data.Dataset):
    def __init__(self, paths): self.paths = paths
    def __len__(self): return len(self.paths)
    def __getitem__(self, i): return targetpad(Image.open(self.paths[i]).convert('RGB'))


p = argparse.ArgumentParser()
p.add_argument('images'); p.add_argument('--count', type=int, default=256); p.add_argument('--batch', type=int, default=32)
p.add_argument('--threads', type=int, default=2); p.add_argument('--workers', type=int, default=0)
p.add_argument('--compile', action='store_true'); p.add_argument('--rounds', type=int, default=3)
a = p.parse_args()
torch.set_num_threads(a.threads); torch.manual_seed(0)
paths = sorted(os.path.join(a.images, f) for f in os.listdir(a.images) if f.lower().endswith(('.jpg', '.jpeg', '.png')))[:a.count]
model, how = maybe_compile(Vision(), a.compile)
loader = lambda: torch.utils.data.DataLoader(Files(paths), batch_size=a.batch, num_workers=a.workers)
med = lambda xs: sorted(xs)[len(xs) // 2]
dec, fwd, whole = [], [], []
with torch.inference_mode():
    model(torch.zeros(a.batch, 3, 224, 224))  # warm-up (and compilation)
    for r in range(a.rounds):
        t = time.perf_counter(); batches = list(loader()); dec.append(len(paths) / (time.perf_counter() - t))
        t = time.perf_counter()
        for b in batches: model(b)
        fwd.append(len(paths) / (time.perf_counter() - t))
        t = time.perf_counter()
        for b in loader(): model(b)
        whole.append(len(paths) / (time.perf_counter() - t))
print(f"torch {torch.__version__}, threads {a.threads}, workers {a.workers}, batch {a.batch}, {how}, {'sdpa' if HAS_SDPA else 'explicit attention'}, {len(paths)} images")
print(f"decode + preprocess only: {med(dec):.1f} images/s")
print(f"forward only: {med(fwd):.1f} images/s")
print(f"{med(whole):.2f} images/s")
