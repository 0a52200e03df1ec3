"""Shared fixtures: the tiny offline Qwen2.5-VL is built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sparse_video_r1.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def video_cases(tmp_path_factory: pytest.TempPathFactory):
    """The decodable test videos (see tests/videos.py), made once per session."""
    from videos import make_cases

    return make_cases(tmp_path_factory.mktemp("videos"))
