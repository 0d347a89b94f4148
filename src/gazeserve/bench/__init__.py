"""Benchmarks and load tests: the production pipeline in-process (`gazeserve bench`) and a
running service over HTTP and WebSocket (`gazeserve loadtest`), each optionally against
MediaPipe 0.10.21 run in its own venv on the same frames in the same run.

Nothing here is imported by the serving path. Heavy or optional imports (the engine, httpx,
websockets, psutil, matplotlib) happen inside the functions that need them.
"""
