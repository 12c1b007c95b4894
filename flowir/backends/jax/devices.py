"""Mapping TF device names (``/cpu:0``, ``/device:GPU:1``) to jax devices.

An op without a device runs on the default device: the first GPU when jax has one, as TF
placed ops, else the CPU. A named device that exists is used; a named GPU (or CPU index)
that does not exist falls back to the default CPU with one warning per name, or raises
``DevicePlacementError`` when soft placement is off (TF's ``allow_soft_placement=False``).
A ``device_count`` (TF's ``ConfigProto.device_count``) hides the devices of a type past
its count: ``{"GPU": 0}`` runs everything on the CPU. The CPU is never hidden.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
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

    def __init__(self, soft_placement: bool = True, device_count: Mapping[str, int] | None = None) -> None:
        self.soft_placement = soft_placement
        self._counts = {kind.upper(): n for kind, n in (device_count or {}).items() if kind.upper() != "CPU"}
        self._warned: set[str] = set()
        self._resolved: dict[str | None, jax.Device] = {}

    def _devices(self, kind: str) -> tuple[jax.Device, ...]:
        """The usable devices of TF device type ``kind`` (``"GPU"``)."""
        platform = _PLATFORMS.get(kind)
        devices = _platform_devices(platform) if platform else ()
        count = self._counts.get(kind)
        return devices if count is None else devices[:count]

    @property
    def default(self) -> jax.Device:
        """Where ops without a device run: the first GPU if there is one, else the first CPU."""
        gpus = self._devices("GPU")
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
            devices = self._devices(kind)
            if index < len(devices):
                device = devices[index]
            else:
                have = ", ".join(f"/device:{d.platform.upper()}:{d.id}" for d in (*self._devices("CPU"), *self._devices("GPU")))
                reason = f"{what} is placed on {spec!r}, which does not exist (devices: {have})"
                if not self.soft_placement:
                    raise DevicePlacementError(reason + "; allow soft placement to run it on the CPU instead")
                device = _platform_devices("cpu")[0]
                if spec not in self._warned:
                    self._warned.add(spec)  # type: ignore[arg-type]
                    warnings.warn(f"{reason}: running it on the CPU", RuntimeWarning, stacklevel=2)
        self._resolved[spec] = device
        return device

