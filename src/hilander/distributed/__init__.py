"""Hi-LANDER beyond one process: level 1 on a Ray cluster (``pip install 'hilander[ray]'``).

Nothing here imports ``ray`` until a :class:`RayBackend` is entered, so hilander works
without it; the names below load on first use, so a shard actor importing
:mod:`hilander.distributed.shards` does not pay for torch.
"""

__all__ = ["RayBackend", "require_ray", "shard_bounds"]


def __getattr__(name: str):
    if name in ("RayBackend", "require_ray"):
        from . import ray_backend

        return getattr(ray_backend, name)
    if name == "shard_bounds":
        from .shards import shard_bounds

        return shard_bounds
    raise AttributeError(f"module 'hilander.distributed' has no attribute {name!r}")
