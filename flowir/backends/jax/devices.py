"""Mapping TF device names (``/cpu:0``, ``/device:GPU:1``) to jax devices.

An op without a device runs on the default device: the first GPU when jax has one, as TF
placed ops, else the CPU. A named device that exists is used; a named GPU (or CPU index)
that does not exist falls back to the default CPU with one warning per name, or raises
``DevicePlacementError`` when soft placement is off (TF's ``allow_soft_placement=False``).
"""

from __future__ import annotations

import re
import warnings
from functools import cache

import jax

from flowir.ir.errors import FlowirError

__all__ = ["DevicePlacementError", "DeviceResolver", "parse_device"]

_DEVICE = re.compile(r"/device:([A-Za-z_][A-Za-z0-9_]*):(\d+|\*)$|/(cpu|gpu|CPU|GPU):(\d+|\*)$")

#: TF device types and the jax platforms that serve them.
_PLATFORMS = {"CPU": "cpu", "GPU": "gpu"}


class DevicePlacementError(FlowirError):
    """An op names a device that does not exist and soft placement is off."""


def parse_device(spec: str) -> tuple[str, int] | None:
    """``(type, index)`` of the device part of a TF device string (``"/device:GPU:1"`` gives
    ``("GPU", 1)``; an index ``*`` gives 0), ``None`` when ``spec`` names no device type
    (``"/job:worker"``).

    >>> parse_device("/job:localhost/replica:0/task:0/device:GPU:1")
    ('GPU', 1)
    >>> parse_device("/cpu:0")
    ('CPU', 0)
    """
    m = _DEVICE.search(spec)
    if m is None:
        return None
    kind = (m.group(1) or m.group(3)).upper()
    index = m.group(2) or m.group(4)
    return kind, 0 if index == "*" else int(index)


@cache
def _platform_devices(platform: str) -> tuple[jax.Device, ...]:
    try:
        return tuple(jax.devices(platform))
    except RuntimeError:  # the platform is not installed or has no devices
        return ()


class DeviceResolver:
    """Resolves device names to jax devices for one backend; warns once per missing name."""

    def __init__(self, soft_placement: bool = True) -> None:
        self.soft_placement = soft_placement
        self._warned: set[str] = set()
        self._resolved: dict[str | None, jax.Device] = {}

    @property
    def default(self) -> jax.Device:
        """Where ops without a device run: the first GPU if there is one, else the first CPU."""
        gpus = _platform_devices("gpu")
        return gpus[0] if gpus else _platform_devices("cpu")[0]

    def resolve(self, spec: str | None, what: str = "an op") -> jax.Device:
        """The jax device for device name ``spec`` (``None`` or a name without a device type:
        the default). Raises ``DevicePlacementError`` for a missing device without soft
        placement; warns (once per name) and gives the CPU with it."""
        found = self._resolved.get(spec)
        if found is not None:
            return found
        parsed = None if spec is None else parse_device(spec)
        if parsed is None:
            device = self.default
        else:
            kind, index = parsed
            platform = _PLATFORMS.get(kind)
            devices = _platform_devices(platform) if platform else ()
            if index < len(devices):
                device = devices[index]
            else:
                have = ", ".join(f"/device:{d.platform.upper()}:{d.id}" for d in _all_devices())
                reason = f"{what} is placed on {spec!r}, which does not exist (devices: {have})"
                if not self.soft_placement:
                    raise DevicePlacementError(reason + "; allow soft placement to run it on the CPU instead")
                device = _platform_devices("cpu")[0]
                if spec not in self._warned:
                    self._warned.add(spec)  # type: ignore[arg-type]
                    warnings.warn(f"{reason}: running it on the CPU", RuntimeWarning, stacklevel=2)
        self._resolved[spec] = device
        return device


def _all_devices() -> list[jax.Device]:
    return [*_platform_devices("cpu"), *_platform_devices("gpu")]
