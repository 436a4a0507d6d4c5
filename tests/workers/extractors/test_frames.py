"""Frames between the pool and an extraction process: a big-endian length, then UTF-8 JSON."""

from __future__ import annotations

from workers.extractors import frames


def test_a_message_is_its_length_then_its_json() -> None:
    frame = frames.encode({"text": "Grüße", "pages": None})

    body = '{"text": "Grüße", "pages": null}'.encode()
    assert frame == len(body).to_bytes(8, "big") + body
    assert frames.length(frame[: frames.HEADER.size]) == len(body)
    assert frames.decode(frame[frames.HEADER.size :]) == {"text": "Grüße", "pages": None}
