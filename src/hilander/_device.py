"""Where torch models run: ``device="auto" | "cpu" | "cuda"`` (or ``"cuda:N"``)."""

from __future__ import annotations

import torch

from ._validation import InputError


def resolve_device(device: str) -> torch.device:
    """The torch device for a model's ``device`` parameter.

    "auto" takes CUDA when present and the CPU otherwise, so nothing ever requires a GPU.
    An explicit "cuda" on a machine without one is an error rather than a silent CPU run: the
    user asked for it, and a 50x slower run without a word would be worse than a clear message.
    """
    if not isinstance(device, str):
        raise InputError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    name = device.strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise InputError(f"device={device!r} but torch sees no CUDA device on this machine; "
                             "use device='auto' (CUDA when present) or 'cpu'")
        try:
            dev = torch.device(name)
        except RuntimeError:
            raise InputError(f"device {device!r} is not a valid CUDA device name") from None
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise InputError(f"device={device!r} but only {torch.cuda.device_count()} CUDA "
                             "device(s) exist")
        return dev
    raise InputError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")


#: the ``_parameter_constraints`` entry of every torch model's ``device``
DEVICE_CONSTRAINT = [str]
