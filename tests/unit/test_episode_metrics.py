"""The training metrics computed from episode records: known records in, known numbers out."""

from __future__ import annotations

from sparse_video_r1.training.episode_metrics import Failure, episode_metrics, failures


def test_metrics_of_a_known_batch():
    records = [
        {"end": "answer", "answer": "B", "actions": ["frames", "answer"], "num_frames": 10, "rounds": 2,
         "invalid_actions": 0, "row": 0},
        {"end": "answer", "answer": "A", "actions": ["zoom", "zoom", "answer"], "num_frames": 5, "rounds": 1,
         "invalid_actions": 0, "row": 1, "zooms": [{"start": 1, "end": 3, "round": 1}] * 2},
        {"end": "round limit", "answer": None, "actions": ["invalid: x", "frames", "invalid: y"],
         "num_frames": 9, "rounds": 3, "invalid_actions": 2, "row": 2},
        {"end": "video error: file not found", "actions": [], "num_frames": 0, "rounds": 0, "row": 3},
    ]  # fmt: skip
    metrics = episode_metrics(records, accuracies=[1.0, 0.0, 0.0, 0.0])
    assert metrics == {
        "episode/acc": 0.25,
        "episode/format": 0.5,
        "episode/frames": 8.0,  # (10 + 5 + 9) / 3 episodes that ran
        "episode/rounds": 2.0,
        "episode/request_rate": 2 / 3,
        "episode/requests_per_episode": 2 / 3,
        "episode/zoom_rate": 1 / 3,
        "episode/zooms_per_episode": 2 / 3,
        "episode/invalid_rate": 2 / 8,  # 2 invalid of the 8 replies of the episodes that ran
        "episode/failed": 1.0,
        "episode/before_evidence": 0.0,  # no spans given
        "episode/after_evidence": 0.0,
        "episode/requested_in_evidence": 0.0,
    }
    assert failures(records) == [Failure(3, "video error: file not found")]


def test_an_empty_batch_has_zero_metrics():
    assert set(episode_metrics([], []).values()) == {0.0}
