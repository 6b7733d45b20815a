"""Neural network modules."""

from .lander import LanderNet, lander_loss
from .layers import EDGE_INPUTS, ENCODERS, EdgeHead, GraphEncoder

__all__ = ["EDGE_INPUTS", "ENCODERS", "EdgeHead", "GraphEncoder", "LanderNet", "lander_loss"]
