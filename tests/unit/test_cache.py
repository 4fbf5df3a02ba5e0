"""Cache keys change when inputs change; stamps make partial results invalid."""

from __future__ import annotations

from pathlib import Path

import pytest

from vm import cache, image, kernel


def test_hash_parts_sensitive_to_content_and_boundaries() -> None:
    assert cache.hash_parts(["a", "b"]) == cache.hash_parts(["a", "b"])
    assert cache.hash_parts(["a", "b"]) != cache.hash_parts(["a", "c"])
    assert cache.hash_parts(["ab", ""]) != cache.hash_parts(["a", "b"])


def test_hash_files_sees_names_and_contents(tmp_path: Path) -> None:
    a = tmp_path / "a.c"
    a.write_text("int x;\n")
    k1 = cache.hash_files([a], tmp_path)
    a.write_text("int y;\n")
    k2 = cache.hash_files([a], tmp_path)
    b = tmp_path / "b.c"
    a.rename(b)
    k3 = cache.hash_files([b], tmp_path)
    assert len({k1, k2, k3}) == 3


def test_stamp_lifecycle(tmp_path: Path) -> None:
    assert not cache.is_complete(tmp_path, "k1")
    cache.mark_complete(tmp_path, "k1")
    assert cache.is_complete(tmp_path, "k1")
    assert not cache.is_complete(tmp_path, "k2")
    cache.invalidate(tmp_path)
    assert not cache.is_complete(tmp_path, "k1")
    cache.invalidate(tmp_path)  # idempotent


def test_kernel_key_follows_config_text() -> None:
    assert kernel.input_key("CONFIG_A=y\n") == kernel.input_key("CONFIG_A=y\n")
    assert kernel.input_key("CONFIG_A=y\n") != kernel.input_key("CONFIG_A=n\n")


def test_image_key_follows_ssh_key() -> None:
    assert image.input_key(b"ssh-ed25519 AAAA one") != image.input_key(b"ssh-ed25519 AAAA two")


def test_unknown_flavour_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="unknown flavour 'fast'"):
        kernel.fragments("fast")
