"""A character-level language model (an LSTM, or a small causal Transformer) trained on three
Shakespeare sonnets in well under a minute on the CPU, printing samples as it learns.

    python examples/char_model.py                       # LSTM, about 40 s on two cores
    python examples/char_model.py --model transformer
    python examples/char_model.py --steps 20 --sample-every 10 --max-seconds 10
"""

import argparse
import time

import rustensor as torch
import rustensor.nn as nn
import rustensor.nn.functional as F

# Sonnets 18, 116 and 130 (public domain).
TEXT = """Shall I compare thee to a summer's day?
Thou art more lovely and more temperate:
Rough winds do shake the darling buds of May,
And summer's lease hath all too short a date;
Sometime too hot the eye of heaven shines,
And often is his gold complexion dimm'd;
And every fair from fair sometime declines,
By chance or nature's changing course untrimm'd;
But thy eternal summer shall not fade,
Nor lose possession of that fair thou ow'st;
Nor shall death brag thou wander'st in his shade,
When in eternal lines to time thou grow'st:
So long as men can breathe or eyes can see,
So long lives this, and this gives life to thee.

Let me not to the marriage of true minds
Admit impediments. Love is not love
Which alters when it alteration finds,
Or bends with the remover to remove.
O no! it is an ever-fixed mark
That looks on tempests and is never shaken;
It is the star to every wandering bark,
Whose worth's unknown, although his height be taken.
Love's not Time's fool, though rosy lips and cheeks
Within his bending sickle's compass come;
Love alters not with his brief hours and weeks,
But bears it out even to the edge of doom.
If this be error and upon me proved,
I never writ, nor no man ever loved.

My mistress' eyes are nothing like the sun;
Coral is far more red than her lips' red;
If snow be white, why then her breasts are dun;
If hairs be wires, black wires grow on her head.
I have seen roses damask'd, red and white,
But no such roses see I in her cheeks;
And in some perfumes is there more delight
Than in the breath that from my mistress reeks.
I love to hear her speak, yet well I know
That music hath a far more pleasing sound;
I grant I never saw a goddess go;
My mistress, when she walks, treads on the ground:
And yet, by heaven, I think my love as rare
As any she belied with false compare.
"""


class CharLSTM(nn.Module):
    def __init__(self, vocab, emb=32, hidden=96):
        super().__init__()
        self.embed = nn.Embedding(vocab, emb)
        self.rnn = nn.LSTM(emb, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x, state=None):
        out, state = self.rnn(self.embed(x), state)
        return self.head(out), state


class CharTransformer(nn.Module):
    """Two pre-norm encoder layers with a causal mask: a decoder-only model."""

    def __init__(self, vocab, context, d=64, heads=4, layers=2):
        super().__init__()
        self.context = context
        self.embed = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(context, d)
        layer = nn.TransformerEncoderLayer(d, heads, 2 * d, dropout=0.0, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers)
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab)

    def forward(self, x, state=None):
        x = x[:, -self.context:]
        t = x.shape[1]
        h = self.embed(x) + self.pos(torch.arange(t, device=x.device))
        mask = nn.Transformer.generate_square_subsequent_mask(t, device=x.device)
        return self.head(self.norm(self.encoder(h, mask=mask, is_causal=True))), None


def batches(data, seq_len, batch_size, gen):
    """Random windows of the text: inputs and the same windows shifted by one character."""
    starts = torch.randint(0, len(data) - seq_len - 1, (batch_size,), generator=gen)
    idx = starts.unsqueeze(1) + torch.arange(seq_len + 1)
    chunk = data[idx]
    return chunk[:, :-1], chunk[:, 1:]


def sample(model, stoi, itos, prompt="Love ", length=120, temperature=0.8):
    model.eval()
    ids = [stoi[c] for c in prompt]
    with torch.no_grad():
        x = torch.tensor([ids])
        logits, state = model(x)
        out = list(prompt)
        for _ in range(length):
            probs = F.softmax(logits[:, -1] / temperature, dim=-1)
            nxt = torch.multinomial(probs, 1)
            out.append(itos[nxt.item()])
            if state is not None:  # the LSTM carries its state: feed one character
                logits, state = model(nxt, state)
            else:  # the Transformer reads its whole (clipped) context again
                ids.append(nxt.item())
                logits, _ = model(torch.tensor([ids]))
    model.train()
    return "".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=["lstm", "transformer"], default="lstm")
    p.add_argument("--steps", type=int, default=None, help="default: 300 (lstm), 600 (transformer)")
    p.add_argument("--seq-len", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=None, help="default: 1e-2 (lstm), 3e-3 (transformer)")
    p.add_argument("--sample-every", type=int, default=100)
    p.add_argument("--max-seconds", type=float, default=55.0, help="stop training after this long")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.steps is None:
        args.steps = 300 if args.model == "lstm" else 600
    if args.lr is None:
        args.lr = 1e-2 if args.model == "lstm" else 3e-3

    torch.manual_seed(args.seed)
    chars = sorted(set(TEXT))
    stoi = {c: i for i, c in enumerate(chars)}
    itos = dict(enumerate(chars))
    data = torch.tensor([stoi[c] for c in TEXT])
    vocab = len(chars)
    model = CharLSTM(vocab) if args.model == "lstm" else CharTransformer(vocab, args.seq_len)
    print(f"{len(TEXT)} characters, vocabulary {vocab}, {args.model} with "
          f"{sum(q.numel() for q in model.parameters()):,} parameters")
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=args.steps)
    gen = torch.Generator().manual_seed(args.seed)

    start = time.time()
    losses = []
    for step in range(1, args.steps + 1):
        x, y = batches(data, args.seq_len, args.batch_size, gen)
        logits, _ = model(x)
        loss = F.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        out_of_time = time.time() - start > args.max_seconds
        if step % args.sample_every == 0 or step == args.steps or out_of_time:
            recent = sum(losses[-20:]) / len(losses[-20:])
            print(f"\nstep {step} ({time.time() - start:.0f} s): loss {recent:.3f}")
            print(sample(model, stoi, itos))
        if out_of_time:
            print(f"(stopped after {args.max_seconds:.0f} s)")
            break
    return losses


if __name__ == "__main__":
    main()
