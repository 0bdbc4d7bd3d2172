"""The lesson's XOR network: nn.Sequential, BCELoss and Adam, 1000 steps, on rustensor.

XOR is the classic function a single linear layer cannot learn; one hidden layer can.

    python examples/xor.py
    python examples/xor.py --steps 200 --device gpu
"""

import argparse

import rustensor as torch
import rustensor.nn as nn


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    device = torch.device(args.device)

    torch.manual_seed(args.seed)
    X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], device=device)
    y = torch.tensor([[0.0], [1.0], [1.0], [0.0]], device=device)

    model = nn.Sequential(
        nn.Linear(2, 8),
        nn.Tanh(),
        nn.Linear(8, 1),
        nn.Sigmoid(),
    ).to(device)
    criterion = nn.BCELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)

    for step in range(1, args.steps + 1):
        optimizer.zero_grad()
        loss = criterion(model(X), y)
        loss.backward()
        optimizer.step()
        if step % max(1, args.steps // 5) == 0 or step == 1:
            print(f"step {step:4d}: loss {loss.item():.4f}")

    with torch.no_grad():
        probs = model(X).cpu()
    print()
    for (a, b), pr, t in zip(X.cpu().tolist(), probs.squeeze(1).tolist(), y.cpu().squeeze(1).tolist()):
        print(f"{int(a)} xor {int(b)} = {int(t)}   predicted {pr:.3f} -> {int(pr > 0.5)}")
    accuracy = ((probs > 0.5).float() == y.cpu()).float().mean().item()
    print(f"accuracy {accuracy:.0%}, final loss {loss.item():.4f}")
    return accuracy, loss.item()


if __name__ == "__main__":
    main()
