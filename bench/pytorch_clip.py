"""Plain-torch CLIP towers for the PyTorch peers of `starword bench` (transformers is not needed).

Random weights with the given dims; attention through `scaled_dot_product_attention` when this torch has
it (2.0 and later), else the explicit softmax. Imported by pytorch_embed.py and pytorch_text.py.
"""
import torch
import torch.nn.functional as F

HAS_SDPA = hasattr(F, 'scaled_dot_product_attention')


def rnd(*s, std=0.02):
    return torch.randn(*s) * std


def block_weights(W, MLP):
    return dict(ln1=(torch.ones(W), torch.zeros(W)), ln2=(torch.ones(W), torch.zeros(W)),
                q=(rnd(W, W), rnd(W)), k=(rnd(W, W), rnd(W)), v=(rnd(W, W), rnd(W)), o=(rnd(W, W), rnd(W)),
                fc1=(rnd(MLP, W), rnd(MLP)), fc2=(rnd(W, MLP), rnd(W)))


def block(x, l, H, causal):
    B, T, W = x.shape
    dh = W // H
    h = F.layer_norm(x, (W,), *l['ln1'])
    sp = lambda t: t.view(B, T, H, dh).transpose(1, 2)
    q, k, v = sp(F.linear(h, *l['q'])), sp(F.linear(h, *l['k'])), sp(F.linear(h, *l['v']))
    if HAS_SDPA:
        att = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    else:
        s = (q * dh ** -0.5) @ k.transpose(-1, -2)
        if causal:
            s = s + torch.full((T, T), float('-inf')).triu(1)
        att = torch.softmax(s, -1) @ v
    x = x + F.linear(att.transpose(1, 2).reshape(B, T, W), *l['o'])
    h = F.linear(F.layer_norm(x, (W,), *l['ln2']), *l['fc1'])
    return x + F.linear(h * torch.sigmoid(1.702 * h), *l['fc2'])


class Vision:
    """HF CLIPVisionModel + visual_projection: patch conv, CLS, positions, pre-LN, blocks, post-LN on CLS."""
    def __init__(self, W=768, L=12, H=12, patch=32, size=224, P=512):
        self.W, self.H, self.patch = W, H, patch
        n = (size // patch) ** 2
        self.conv = rnd(W, 3, patch, patch); self.cls = rnd(W); self.pos = rnd(n + 1, W, std=0.01)
        self.pre = (torch.ones(W), torch.zeros(W)); self.post = (torch.ones(W), torch.zeros(W))
        self.layers = [block_weights(W, 4 * W) for _ in range(L)]; self.proj = rnd(P, W)

    def __call__(self, px):
        x = F.conv2d(px, self.conv, stride=self.patch).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], 1, -1), x], 1) + self.pos
        x = F.layer_norm(x, (self.W,), *self.pre)
        for l in self.layers:
            x = block(x, l, self.H, causal=False)
        return F.layer_norm(x[:, 0], (self.W,), *self.post) @ self.proj.t()


class Text:
    """HF CLIPTextModel + text_projection, read at each row's EOT (the argmax id)."""
    def __init__(self, W=512, L=12, H=8, P=512, V=49408, ctx=77):
        self.W, self.H = W, H
        self.tok = rnd(V, W); self.pos = rnd(ctx, W, std=0.01)
        self.layers = [block_weights(W, 4 * W) for _ in range(L)]
        self.lnf = (torch.ones(W), torch.zeros(W)); self.proj = rnd(P, W)

    def __call__(self, ids):
        x = self.tok[ids] + self.pos[:ids.shape[1]]
        for l in self.layers:
            x = block(x, l, self.H, causal=True)
        x = F.layer_norm(x, (self.W,), *self.lnf)
        return x[torch.arange(x.shape[0]), ids.argmax(-1)] @ self.proj.t()


def maybe_compile(fn, want):
    if want and hasattr(torch, 'compile'):
        return torch.compile(fn), 'torch.compile'
    return fn, 'eager'
