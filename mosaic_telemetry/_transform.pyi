from typing_extensions import dataclass_transform as dataclass_transform

__all__ = ["dataclass_transform"]
