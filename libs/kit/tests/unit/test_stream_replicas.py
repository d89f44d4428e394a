"""The replica count of the streams the kit creates comes from GUICHET_STREAM_REPLICAS."""

from __future__ import annotations

import pytest
from nats.js.api import StorageType
from pydantic import ValidationError

from guichet_kit.events import stream_config


def test_a_stream_has_one_copy_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GUICHET_STREAM_REPLICAS", raising=False)
    config = stream_config("ETRACKING", ["etracking.>"])
    assert config.num_replicas == 1
    assert config.storage is StorageType.FILE
    assert config.subjects == ["etracking.>"]


def test_the_setting_gives_the_copies_of_every_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUICHET_STREAM_REPLICAS", "3")
    assert stream_config("ETRACKING", ["etracking.>"]).num_replicas == 3
    # As sent to the server: the JSON of the stream's creation carries it.
    assert stream_config("DEADLETTER", ["deadletter.>"]).as_dict()["num_replicas"] == 3


def test_a_caller_may_still_choose_its_own_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUICHET_STREAM_REPLICAS", "3")
    assert stream_config("SCRATCH", ["scratch.>"], replicas=1).num_replicas == 1


@pytest.mark.parametrize("value", ["0", "6", "-1", "three", ""])
def test_a_count_jetstream_cannot_keep_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("GUICHET_STREAM_REPLICAS", value)
    with pytest.raises(ValidationError, match="stream_replicas"):
        stream_config("ETRACKING", ["etracking.>"])
