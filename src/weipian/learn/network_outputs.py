"""Names of the change network outputs (no PyTorch needed)."""

__all__ = ["OUTPUTS"]

#: Output channels of every weipian change model, in order.
OUTPUTS = ("any", "construction")
