"""explorer.ui.gradio_patches: the work-arounds for gradio behaviours. Here, the sketchpad's stroke uploads
(bound_blob_uploads): bounded in number, size and layer index, and junk refused with an HTTP 400 that says what to
send. The other two patches are tested with the hostile inputs they were written for (test_hostile_inputs.py)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest


def test_sketchpad_blob_uploads_are_bounded(monkeypatch):
    import gradio as gr
    from fastapi import HTTPException

    from explorer.ui import gradio_patches

    with gr.Blocks():
        sketch = gradio_patches.bound_blob_uploads(gr.Sketchpad())
    up = lambda i, t="composite", idx=None, size=10: sketch.accept_blobs(
        SimpleNamespace(data={"type": t, "index": idx, "id": f"d{i}"}, files=[("blob", b"x" * size)]))
    with pytest.raises(HTTPException, match="layers") as e:
        up(0, "layer", 10**9)
    assert e.value.status_code == 400  # a message for the caller, not gradio's bare 500
    assert sketch.blob_storage == {}
    monkeypatch.setattr(gradio_patches, "MAX_PENDING_DRAWINGS", 3)
    for i in range(5):
        up(i)
    assert list(sketch.blob_storage) == ["d2", "d3", "d4"]  # the oldest were dropped
    monkeypatch.setattr(gradio_patches, "MAX_PENDING_BYTES", 25)
    up(9, size=20)
    assert list(sketch.blob_storage) == ["d9"]


@pytest.mark.parametrize("fields, words", [
    ({"type": "nope", "index": "null", "id": "d"}, "unknown part of a drawing"),
    ({"type": "composite", "index": "null", "id": ""}, "id must be text"),
    ({"type": "composite", "index": "null", "id": "x" * 201}, "id must be text"),
    ({"type": "composite", "index": "null", "id": 5}, "id must be text"),
    ({"type": "composite", "index": "null"}, "malformed drawing upload"),
    ({"type": "layer", "index": "abc", "id": "d"}, "layer's index"),
    ({"type": "layer", "index": "-1", "id": "d"}, "layer's index"),
])
def test_sketchpad_blob_uploads_refuse_junk_with_a_message(fields, words):
    """Found by benchmarks/fuzz.py: gradio's accept_blobs answered these with a bare 500 (KeyError, ValueError)."""
    import gradio as gr
    from fastapi import HTTPException

    from explorer.ui import gradio_patches

    with gr.Blocks():
        sketch = gradio_patches.bound_blob_uploads(gr.Sketchpad())
    with pytest.raises(HTTPException, match=words) as e:
        sketch.accept_blobs(SimpleNamespace(data=fields, files=[("blob", b"x")]))
    assert e.value.status_code == 400 and sketch.blob_storage == {}
    with pytest.raises(HTTPException, match="malformed"):  # no file
        sketch.accept_blobs(SimpleNamespace(data={"type": "composite", "index": "null", "id": "d"}, files=[]))
    # an index gradio cannot int() is dropped where the part has no index
    sketch.accept_blobs(SimpleNamespace(data={"type": "composite", "index": "1e400", "id": "d"}, files=[("b", b"x")]))
    assert sketch.blob_storage["d"].composite == b"x"
