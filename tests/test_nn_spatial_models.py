"""Small models as users write them (a CNN, an LSTM text classifier, a causal Transformer
language model) built from the nn-spatial layers with the rest of rustensor.nn: they run
forward and backward and an optimizer step lowers the loss on a fixed batch."""

import numpy as np

import rustensor as torch
import rustensor.nn as nn
import rustensor.nn.functional as F


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(4, 8, 3, padding="same", padding_mode="reflect"), nn.ReLU(),
            nn.AdaptiveAvgPool2d((2, 2)),
        )
        self.head = nn.Linear(8 * 4, 3)

    def forward(self, x):
        return self.head(self.features(x).flatten(1))


class TextLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(20, 6, padding_idx=0)
        self.rnn = nn.LSTM(6, 8, num_layers=2, bidirectional=True, batch_first=True)
        self.out = nn.Linear(16, 3)

    def forward(self, tokens, lengths):
        packed = nn.utils.rnn.pack_padded_sequence(self.emb(tokens), lengths, batch_first=True, enforce_sorted=False)
        _, (h, _) = self.rnn(packed)
        return self.out(torch.cat([h[-2], h[-1]], 1))


class TinyGPT(nn.Module):
    def __init__(self, vocab=20, d=8, n=6):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.zeros(1, n, d))
        layer = nn.TransformerEncoderLayer(d, 2, 16, dropout=0.0, batch_first=True, norm_first=True, activation="gelu")
        self.blocks = nn.TransformerEncoder(layer, 2)
        self.lm = nn.Linear(d, vocab)

    def forward(self, idx):
        t = idx.shape[1]
        mask = nn.Transformer.generate_square_subsequent_mask(t)
        return self.lm(self.blocks(self.tok(idx) + self.pos[:, :t], mask=mask, is_causal=True))


def _train(model, batch, loss_fn, steps=8, lr=0.05):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(model, *batch)
        loss.backward()
        opt.step()
        losses.append(float(loss))
    return losses


def test_cnn_trains():
    torch.manual_seed(0)
    model = CNN()
    x, y = torch.randn(6, 1, 8, 8), torch.tensor([0, 1, 2, 0, 1, 2])
    losses = _train(model, (x, y), lambda m, x, y: F.cross_entropy(m(x), y))
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    model.eval()
    assert tuple(model(x).shape) == (6, 3)


def test_lstm_classifier_trains():
    torch.manual_seed(0)
    model = TextLSTM()
    tokens = torch.tensor([[3, 4, 5, 0], [6, 7, 0, 0], [8, 9, 10, 11]])
    lengths = [3, 2, 4]
    y = torch.tensor([0, 1, 2])
    losses = _train(model, (tokens, lengths, y), lambda m, t, n, y: F.cross_entropy(m(t, n), y))
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    assert model.emb.weight.grad is not None and not model.emb.weight.grad[0].any()


def test_tiny_gpt_trains_and_is_causal():
    torch.manual_seed(0)
    model = TinyGPT()
    idx = torch.tensor([[1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1]])
    tgt = torch.tensor([[2, 3, 4, 5, 6, 7], [5, 4, 3, 2, 1, 0]])
    losses = _train(model, (idx, tgt), lambda m, i, t: F.cross_entropy(m(i).reshape(-1, 20), t.reshape(-1)))
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    # causality: changing the last token leaves the earlier positions' logits unchanged
    model.eval()
    a = model(idx).detach().numpy()
    idx2 = torch.tensor([[1, 2, 3, 4, 5, 9], [6, 5, 4, 3, 2, 9]])
    b = model(idx2).detach().numpy()
    np.testing.assert_allclose(a[:, :5], b[:, :5], rtol=1e-5, atol=1e-6)
    assert not np.allclose(a[:, 5], b[:, 5])
