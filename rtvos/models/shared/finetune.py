"""First-frame fine-tuning within a budget: Adam on some parameters for at most `steps` steps or
`seconds`, whichever ends first, with a progress bar -- how PLM and LSE adapt to the object they were
given before the stream goes on."""

from __future__ import annotations

import time
from typing import Callable, Iterable

import numpy as np
import torch
from tqdm import tqdm


def has_budget(steps: int, seconds: float) -> bool:
    """Whether a fine-tuning budget allows any step: both the steps and the seconds are above 0."""
    return steps > 0 and seconds > 0


def finetune(parameters: Iterable[torch.nn.Parameter], loss: Callable[[], torch.Tensor], steps: int, seconds: float,
             lr: float, desc: str, progress: bool = True) -> dict:
    """Run `loss()` / backward / Adam step until the budget is spent. Returns {steps, seconds, loss_first,
    loss_last}; no step at all when either budget is 0."""
    done, losses = 0, []
    opt = torch.optim.Adam(list(parameters), lr=lr)  # (its first use in a process imports for seconds: not budgeted)
    t0 = time.monotonic()
    if has_budget(steps, seconds):
        bar = tqdm(total=steps, desc=desc, unit="step", disable=not progress, leave=False, mininterval=0.5)
        while done < steps and time.monotonic() - t0 < seconds:
            value = loss()
            opt.zero_grad(set_to_none=True)
            value.backward()
            opt.step()
            done += 1
            losses.append(float(value.detach()))
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(losses[-10:]):.3f}", refresh=False)  # redraws follow mininterval
        bar.close()
    return {"steps": done, "seconds": round(time.monotonic() - t0, 2),
            "loss_first": losses[0] if losses else None, "loss_last": losses[-1] if losses else None}
