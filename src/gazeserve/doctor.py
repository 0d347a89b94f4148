"""`gazeserve doctor`: what this installation has and what the service would choose.

`doctor_report` returns plain JSON-ready values (for `--json` and tests); `render_doctor` prints
them with rich. Nothing here loads a model into a runtime or touches the network.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("gazeserve", "ai-edge-litert", "onnxruntime", "onnxruntime-gpu", "onnx", "tflite",
            "numpy", "opencv-python-headless", "simplejpeg", "PyTurboJPEG", "fastapi", "uvicorn",
            "pydantic")


def doctor_report(model_dir: Path | None = None, engine: str = "auto",
                  providers: str | None = None, use_quantized: bool = False) -> dict[str, Any]:
    """Versions, providers, engine choice, model files, CPU and JPEG decoders.

    Args:
        model_dir: the model folder (None: `GAZE_MODEL_DIR` or the cache).
        engine: `GAZE_ENGINE` (auto, litert, onnx).
        providers: `GAZE_PROVIDERS` as given (comma-separated), None for automatic.
        use_quantized: `USE_QUANTIZED_MODEL`.
    """
    from gazeserve.config import recommended_workers
    from gazeserve.models import ModelStore

    store = ModelStore(model_dir)
    runtime = _runtime(engine, providers, store)
    return {
        "python": {"version": platform.python_version(),
                   "implementation": platform.python_implementation(),
                   "executable": sys.executable},
        "platform": platform.platform(),
        "packages": {name: _version(name) for name in PACKAGES},
        "runtime": runtime,
        "models": _models(store, runtime, use_quantized),
        "cpu": {"count": os.cpu_count(), "recommended_workers": recommended_workers()},
        "jpeg": {"simplejpeg": _simplejpeg(), "libturbojpeg": _libturbojpeg()},
    }


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _runtime(engine: str, providers: str | None, store: Any) -> dict[str, Any]:
    from gazeserve.models.derived import DerivedState, derived_statuses
    from gazeserve.models.manifest import Precision
    from gazeserve.runtime.providers import available_providers, choose_providers, parse_providers
    from gazeserve.runtime.selection import resolve_engine

    available = available_providers()
    out: dict[str, Any] = {"available_providers": available, "requested_providers": providers,
                           "chosen_providers": [], "provider": None, "engine_requested": engine}
    try:
        chosen = choose_providers(available, parse_providers(providers)) if available else []
        out["chosen_providers"] = chosen
        out["provider"] = chosen[0] if chosen else None
    except ValueError as exc:
        out["provider_error"] = str(exc)
    floats_ready = all(s.state is DerivedState.OK for s in derived_statuses(store)
                       if s.spec.precision is Precision.FLOAT32)
    try:
        kind, reason = resolve_engine(engine, available, onnx_models_ready=floats_ready)
        out["engine"], out["engine_reason"] = kind.value, reason
    except ValueError as exc:
        out["engine"], out["engine_reason"] = None, str(exc)
    return out


def _models(store: Any, runtime: dict[str, Any], use_quantized: bool) -> dict[str, Any]:
    from gazeserve.models import ModelsNotPreparedError
    from gazeserve.models.derived import derived_statuses
    from gazeserve.models.selection import resolve_model_files
    from gazeserve.runtime.factory import RuntimeKind
    from gazeserve.runtime.providers import CPU

    tflite = [{"file": s.spec.filename, "state": s.state, "sha256": s.spec.sha256}
              for s in store.status()]
    derived = []
    for s in derived_statuses(store):
        entry = s.entry
        derived.append({
            "file": s.spec.filename, "precision": s.spec.precision.value, "state": s.state.value,
            "message": s.message,
            "sha256": entry.sha256 if entry else None,
            "source_sha256": entry.source_sha256 if entry else None,
            "parity": entry.parity.__dict__ if entry else None,
        })
    selected: dict[str, Any] = {"use_quantized": use_quantized}
    if runtime.get("engine"):
        try:
            files = resolve_model_files(store, RuntimeKind(runtime["engine"]), use_quantized,
                                        runtime.get("provider") or CPU)
            selected["files"] = {n.value: p.name for n, p in files.paths.items()}
            selected["reasons"] = files.reasons
        except ModelsNotPreparedError as exc:
            selected["error"] = str(exc)
    return {"dir": str(store.model_dir), "tflite": tflite, "derived": derived,
            "selected": selected}


def _simplejpeg() -> dict[str, Any]:
    try:
        import simplejpeg
    except ImportError as exc:
        return {"usable": False, "detail": f"not installed ({exc})"}
    try:
        import numpy as np

        data = simplejpeg.encode_jpeg(np.zeros((8, 8, 3), np.uint8), colorspace="RGB")
        decoded = simplejpeg.decode_jpeg(data, colorspace="RGB")
        usable = decoded.shape == (8, 8, 3)
    except (ValueError, RuntimeError, OSError) as exc:
        return {"usable": False, "detail": f"round trip failed: {exc}"}
    return {"usable": usable, "version": _version("simplejpeg"),
            "detail": "encode/decode round trip ok" if usable else "wrong decoded shape"}


def _libturbojpeg() -> dict[str, Any]:
    """The system's libturbojpeg (PyTurboJPEG's back end; simplejpeg bundles its own)."""
    path = ctypes.util.find_library("turbojpeg")
    if path is None:
        return {"usable": False, "path": None,
                "detail": "not found (install libturbojpeg0); simplejpeg does not need it"}
    try:
        lib = ctypes.CDLL(path)
    except OSError as exc:
        return {"usable": False, "path": path, "detail": f"cannot load: {exc}"}
    api = "3.x (tj3 API)" if hasattr(lib, "tj3Init") else "2.x (tj API)"
    return {"usable": hasattr(lib, "tjInitDecompress") or hasattr(lib, "tj3Init"),
            "path": path, "detail": f"libjpeg-turbo {api}"}


def render_doctor(report: dict[str, Any], console: Any = None) -> None:
    """Prints `report` as rich tables (to `console`, default stdout)."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()

    def table(title: str, *columns: str) -> Table:
        t = Table(title=title, title_justify="left")
        for column in columns:
            t.add_column(column, overflow="fold")
        return t

    def mark(ok: bool | None) -> str:
        return "[green]yes[/]" if ok else "[red]no[/]"

    py = report["python"]
    system = table("system", "item", "value")
    system.add_row("python", f"{py['version']} ({py['implementation']}) {py['executable']}")
    system.add_row("platform", report["platform"])
    system.add_row("CPU count", str(report["cpu"]["count"]))
    system.add_row("recommended workers", str(report["cpu"]["recommended_workers"]))
    for name, info in report["jpeg"].items():
        system.add_row(name, f"{mark(info['usable'])} {info.get('detail', '')}")
    console.print(system)

    packages = table("packages", "package", "version")
    for name, version in report["packages"].items():
        packages.add_row(name, version or "[dim]not installed[/]")
    console.print(packages)

    rt = report["runtime"]
    runtime = table("runtime", "item", "value")
    runtime.add_row("available providers", ", ".join(rt["available_providers"]) or "none")
    runtime.add_row("GAZE_PROVIDERS", rt["requested_providers"] or "[dim](automatic)[/]")
    runtime.add_row("chosen providers",
                    ", ".join(rt["chosen_providers"]) or rt.get("provider_error", "none"))
    runtime.add_row("GAZE_ENGINE", rt["engine_requested"])
    runtime.add_row("engine", f"{rt['engine'] or '[red]none[/]'} ({rt['engine_reason']})")
    console.print(runtime)

    models = report["models"]
    files = table(f"models in {models['dir']}", "file", "state", "sha256", "parity vs LiteRT")
    for m in models["tflite"]:
        files.add_row(m["file"], _state(m["state"]), m["sha256"][:12], "")
    for m in models["derived"]:
        p = m["parity"]
        parity = (f"mean {p['mean_px']:.3g} px, max {p['max_px']:.3g} px, "
                  f"max |d| {p['max_abs_error']:.2g}" if p else "")
        state = _state(m["state"]) + (f" ({m['message']})" if m["message"] else "")
        files.add_row(m["file"], state, (m["sha256"] or "")[:12], parity)
    console.print(files)
    selected = models["selected"]
    if "error" in selected:
        console.print(f"[red]selected models: {selected['error']}[/]")
    elif "files" in selected:
        console.print("selected models: " + ", ".join(selected["files"].values()))
        for reason in selected["reasons"]:
            console.print(f"  [yellow]{reason}[/]")


def _state(state: str) -> str:
    return f"[green]{state}[/]" if state == "ok" else f"[red]{state}[/]"
