"""The whole build: kernel -> modules -> guest programs -> guest image, per
flavour; every step cached by its inputs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vm import image, kernel, modules, paths, preflight
from vm.guest_build import build_guest_programs
from vm.step import stage


@dataclass(frozen=True)
class Built:
    kernel: kernel.KernelBuild
    modules: modules.ModulesBuild
    image: image.Image
    programs: dict[str, Path]


def build(flavours: tuple[str, ...] = paths.FLAVOURS, force: bool = False,
          series: str = paths.DEFAULT_KERNEL) -> dict[str, Built]:
    """Build the flavours of one kernel series (6.1 or 6.12); keyed by flavour."""
    preflight.require(series)
    with stage(f"build {series} ({', '.join(flavours)})"):
        progs = build_guest_programs(paths.ensure(paths.guest_bin_dir()))
        img = image.build(force=force)
        out: dict[str, Built] = {}
        for fl in flavours:
            kb = kernel.build(fl, force=force, series=series)
            mb = modules.build(kb, force=force)
            out[fl] = Built(kb, mb, img, progs)
    return out
