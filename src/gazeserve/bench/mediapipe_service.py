"""A minimal FastAPI + MediaPipe FaceMesh service, the way one is usually written: the baseline
that `gazeserve loadtest --against-mediapipe` compares our service with.

Runs inside the MediaPipe venv (with fastapi and uvicorn added by `mediapipe_env`), as
`python -I mediapipe_service.py --port P`; it may import only the standard library, numpy, cv2,
mediapipe, fastapi and uvicorn. It speaks the subset of our protocol a load test uses:

- `POST /v1/gaze` (raw image body): decode with OpenCV, one shared FaceMesh in static mode
  (the seed's "singleton"), answer the face box and the two iris centres.
- `WS /v1/stream`: a `{"type": "frame", "frame_id"}` text message, then the binary frame; one
  FaceMesh per connection in tracking mode; answers `{"type": "result", "frame_id", ...}`.
- `GET /readyz`, and `GET /metrics.json` with `system.pid` (for the load test's CPU and RSS).

FaceMesh runs on the event loop itself: nothing else shares it, and a thread hop would only add
latency. One FaceMesh is never used by two threads at once (it is unsafe).
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

import numpy as np

try:
    import cv2
    import mediapipe as mp  # type: ignore[import-not-found]
    import uvicorn
    from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
    from fastapi.responses import JSONResponse
except ImportError:  # only so mypy and ruff can read this file from gazeserve's own venv
    mp = None

LEFT_IRIS, RIGHT_IRIS = 468, 473
"""Iris centre indices of FaceMesh's 478 refined landmarks."""


def face_mesh(static_image_mode: bool) -> Any:
    return mp.solutions.face_mesh.FaceMesh(static_image_mode=static_image_mode, max_num_faces=1,
                                           refine_landmarks=True, min_detection_confidence=0.5)


def analyze(mesh: Any, data: bytes) -> dict[str, Any]:
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        return {"error": {"code": "decode_failed", "message": "not an image"}}
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    result = mesh.process(rgb)
    if not result.multi_face_landmarks:
        return {"face_detected": False, "faces": []}
    h, w = rgb.shape[:2]
    points = result.multi_face_landmarks[0].landmark
    xy = np.array([[p.x * w, p.y * h] for p in points])
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    return {"face_detected": True, "faces": [{
        "box_px": [round(float(v), 2) for v in (*lo, *hi)],
        "left_iris_px": [round(float(v), 2) for v in xy[LEFT_IRIS]],
        "right_iris_px": [round(float(v), 2) for v in xy[RIGHT_IRIS]],
    }]}


def create_app() -> Any:
    app = FastAPI()
    shared = face_mesh(True)

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ready", "engine": f"mediapipe {mp.__version__}"}

    @app.get("/metrics.json")
    async def metrics() -> dict[str, Any]:
        return {"system": {"pid": os.getpid(), "cpu_count": os.cpu_count(),
                           "engine": f"mediapipe {mp.__version__}"}}

    @app.post("/v1/gaze")
    async def gaze(request: Request) -> Any:
        answer = analyze(shared, await request.body())
        return JSONResponse(answer, status_code=400 if "error" in answer else 200)

    @app.websocket("/v1/stream")
    async def stream(ws: WebSocket) -> None:
        await ws.accept()
        frame_id: Any = None
        with face_mesh(False) as mesh:
            try:
                while True:
                    message = await ws.receive()
                    if message["type"] == "websocket.disconnect":
                        return
                    if message.get("text") is not None:
                        frame_id = json.loads(message["text"]).get("frame_id")
                        continue
                    answer = analyze(mesh, message["bytes"] or b"")
                    kind = "error" if "error" in answer else "result"
                    await ws.send_text(json.dumps({"type": kind, "frame_id": frame_id,
                                                   **answer}))
                    frame_id = None
            except WebSocketDisconnect:
                return

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
