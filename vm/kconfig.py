"""Fragments -> .config with kconfiglib, and verification that every symbol a
fragment asked for took the value it asked for.

Layers: tinyconfig (allnoconfig with kernel/configs/tiny-base.config, then
kernel/configs/tiny.config and arch/x86/configs/tiny.config), then our
fragments in order (base, i386, flavour).  Later layers win.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kconfiglib

from vm.errors import StepError

_SET_RE = re.compile(r"^(CONFIG_[A-Za-z0-9_]+)=(.*)$")
_UNSET_RE = re.compile(r"^# (CONFIG_[A-Za-z0-9_]+) is not set$")
# 6.1 writes the attribute `modules` on a line of its own (kernel/module/Kconfig);
# kconfiglib 14.1 only knows the older spelling `option modules`.
_BARE_MODULES_RE = re.compile(r"^(\s*)modules\s*$", re.MULTILINE)

ARCH = "i386"
SRCARCH = "x86"


@dataclass(frozen=True)
class Request:
    """One fragment line: symbol (without CONFIG_) and wanted string value."""

    name: str
    value: str
    source: str  # "file:line"


class KconfigFailure(StepError):
    """Symbols that do not exist or did not take their requested value."""


def parse_fragment(path: Path) -> list[Request]:
    """Read a fragment; `# CONFIG_X is not set` requests 'n'."""
    out: list[Request] = []
    for no, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        where = f"{path}:{no}"
        if m := _SET_RE.match(line):
            val = m.group(2)
            if len(val) >= 2 and val[0] == val[-1] == '"':
                val = val[1:-1]
            out.append(Request(m.group(1)[7:], val, where))
        elif m := _UNSET_RE.match(line):
            out.append(Request(m.group(1)[7:], "n", where))
        elif line and not line.startswith("#"):
            raise KconfigFailure("kconfig", f"{where}: not a config line: {raw!r}")
    return out


def parse_dotconfig(text: str) -> dict[str, str]:
    """A .config's values by symbol name (without CONFIG_); unset symbols are 'n'."""
    vals: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if m := _SET_RE.match(line):
            val = m.group(2)
            if len(val) >= 2 and val[0] == val[-1] == '"':
                val = val[1:-1]
            vals[m.group(1)[7:]] = val
        elif m := _UNSET_RE.match(line):
            vals[m.group(1)[7:]] = "n"
    return vals


def compiler_version(cc: str = "gcc") -> str:
    out = subprocess.run([cc, "--version"], capture_output=True, text=True, check=True)
    return out.stdout.splitlines()[0]


def kernel_version(srctree: Path) -> str:
    fields: dict[str, str] = {}
    for line in (srctree / "Makefile").read_text().splitlines()[:8]:
        if "=" in line:
            k, _, v = line.partition("=")
            fields[k.strip()] = v.strip()
    return f"{fields['VERSION']}.{fields['PATCHLEVEL']}.{fields['SUBLEVEL']}"


def kconfig_env(srctree: Path) -> dict[str, str]:
    """What the kernel Makefile exports and Kconfig's macros read."""
    return {
        "srctree": str(srctree),
        "ARCH": ARCH,
        "SRCARCH": SRCARCH,
        "CC": "gcc",
        "LD": "ld",
        # 6.12's TOOLS_SUPPORT_RELR test runs $(NM) and $(OBJCOPY) too.
        "NM": "nm",
        "OBJCOPY": "objcopy",
        "HOSTCC": "gcc",
        "HOSTCXX": "g++",
        "RUSTC": "rustc",
        "BINDGEN": "bindgen",
        "KERNELVERSION": kernel_version(srctree),
        "CC_VERSION_TEXT": compiler_version(),
    }


@contextmanager
def _environ(extra: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class _Kconfig(kconfiglib.Kconfig):  # type: ignore[misc]
    """kconfiglib reading 6.1's bare `modules` attribute as `option modules`."""

    def _open(self, filename: str, mode: str) -> Any:
        f = super()._open(filename, mode)
        if mode != "r" or not os.path.basename(filename).startswith("Kconfig"):
            return f
        with f:
            text = f.read()
        return io.StringIO(_BARE_MODULES_RE.sub(r"\1option modules", text))


def _dep_report(sym: Any) -> str:
    """Explain why a symbol is not at its requested value."""
    parts: list[str] = []
    if sym.direct_dep is not None and kconfiglib.expr_value(sym.direct_dep) == 0:
        unmet = [
            f"{s.name}={s.str_value}"
            for s in kconfiglib.expr_items(sym.direct_dep)
            if isinstance(s, kconfiglib.Symbol) and s.tri_value == 0
        ]
        parts.append("depends on " + kconfiglib.expr_str(sym.direct_dep)
                     + (f" (unmet: {', '.join(unmet)})" if unmet else ""))
    if kconfiglib.expr_value(sym.rev_dep) != 0:
        parts.append("selected by " + kconfiglib.expr_str(sym.rev_dep))
    if sym.choice is not None and sym.choice.selection is not sym:
        sel = sym.choice.selection
        parts.append(f"choice selected {sel.name if sel else 'nothing'}")
    if not sym.nodes or not any(n.prompt for n in sym.nodes):
        parts.append("has no prompt (only selects/defaults can set it)")
    return "; ".join(parts) or "value forced by kconfig"


def _check(kconf: Any, requests: Sequence[Request]) -> list[str]:
    problems: list[str] = []
    for req in requests:
        sym = kconf.syms.get(req.name)
        if sym is None or not sym.nodes:
            problems.append(f"CONFIG_{req.name} ({req.source}): no such symbol in this kernel")
            continue
        if sym.str_value != req.value:
            problems.append(
                f"CONFIG_{req.name} ({req.source}): wanted {req.value!r}, "
                f"got {sym.str_value!r}: {_dep_report(sym)}")
    return problems


def tiny_layers(srctree: Path) -> list[Path]:
    return [srctree / "kernel/configs/tiny.config", srctree / "arch/x86/configs/tiny.config"]


def resolve(srctree: Path, fragments: Sequence[Path], out: Path) -> list[Request]:
    """Write *out* (.config) from tinyconfig plus *fragments*; return every
    request made, after checking that each one took.  Raises KconfigFailure
    listing each symbol that did not, with its unmet dependencies."""
    requests: list[Request] = []
    for frag in fragments:
        requests.extend(parse_fragment(frag))
    with _environ(kconfig_env(srctree)):
        kconf = _Kconfig(str(srctree / "Kconfig"), warn=False)
        for sym in kconf.unique_defined_syms:
            sym.set_value(2 if sym.is_allnoconfig_y else 0)
        kconf.load_config(str(srctree / "kernel/configs/tiny-base.config"), replace=False)
        for layer in tiny_layers(srctree):
            kconf.load_config(str(layer), replace=False)
        missing = [f"CONFIG_{r.name} ({r.source}): no such symbol in this kernel"
                   for r in requests if r.name not in kconf.syms or not kconf.syms[r.name].nodes]
        if missing:
            raise KconfigFailure("kconfig", "symbols do not exist:\n  " + "\n  ".join(missing))
        for frag in fragments:
            kconf.load_config(str(frag), replace=False)
        problems = _check(kconf, requests)
        if problems:
            raise KconfigFailure(
                "kconfig", f"{len(problems)} requested symbol(s) did not take:\n  "
                + "\n  ".join(problems))
        out.parent.mkdir(parents=True, exist_ok=True)
        kconf.write_config(str(out), header="")
    return requests


def verify_final(config_text: str, requests: Sequence[Request], where: Path) -> None:
    """Check a .config written by the kernel build itself (after make's syncconfig)."""
    vals = parse_dotconfig(config_text)
    bad = [f"CONFIG_{r.name} ({r.source}): wanted {r.value!r}, final .config has "
           f"{vals.get(r.name, 'n')!r}" for r in requests if vals.get(r.name, "n") != r.value]
    if bad:
        raise KconfigFailure("kconfig (final .config)",
                             "the kernel build changed requested symbols:\n  " + "\n  ".join(bad),
                             where)
