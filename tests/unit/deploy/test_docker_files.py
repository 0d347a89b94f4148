"""The Dockerfiles and compose file, checked for what can be checked without a Docker engine.

What they copy exists and is in the build context; the models land where the service looks for
them; the health check asks a route the app has; settings they set are real settings; the
entrypoint turns GAZE_PROCESSES / MAX_WORKERS into the command line it should. The `gazeserve`
commands they run are run for real by tests/integration/test_deploy_commands.py.
"""

from __future__ import annotations

import os
import stat
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Match
from tests.deploy_support import (
    COMPOSE,
    DEPLOY,
    DOCKER,
    DOCKERFILES,
    REPO,
    Instruction,
    copy_sources,
    dockerfile_instructions,
    dockerignore_allows,
    dockerignore_patterns,
    env_assignments,
    exec_form,
    gazeserve_commands,
    load_yaml,
    pip_install_extras,
)

from gazeserve.config import Settings
from gazeserve.native import build as native_build
from gazeserve.server.app import create_app

ENTRYPOINT_SCRIPT = DOCKER / "entrypoint.sh"
HEALTHCHECK_SCRIPT = DOCKER / "healthcheck.py"

SETTING_NAMES = {name.upper() for name in Settings.model_fields}
ENTRYPOINT_VARIABLES = {"GAZE_PROCESSES"}
"""Read by entrypoint.sh, not by the service."""
NATIVE_ENV = native_build.ENV_DIR
"""Where the attention mesh's delegate is built and loaded from."""
GENERIC_VARIABLES = {"PATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "LD_LIBRARY_PATH",
                     "DEBIAN_FRONTEND", "PIP_NO_CACHE_DIR", "PIP_DISABLE_PIP_VERSION_CHECK"}
NOT_YET_SETTINGS = {"GAZE_ENGINE"}
"""Settings that exist (GAZE_ENGINE) but take values (onnx) that land with the ONNX engine."""


def final_stage(instructions: list[Instruction]) -> list[Instruction]:
    starts = [i for i, ins in enumerate(instructions) if ins.keyword == "FROM"]
    return instructions[starts[-1]:]


def final_env(instructions: list[Instruction]) -> dict[str, str]:
    env: dict[str, str] = {}
    for ins in final_stage(instructions):
        if ins.keyword == "ENV":
            env.update(env_assignments(ins.args))
    return env


def app_serves(path: str, method: str = "GET") -> bool:
    """Whether the app has a route for `path` (the app is built, its lifespan never runs)."""
    app = create_app(Settings())
    scope = {"type": "http", "path": path, "method": method, "root_path": "", "headers": [],
             "query_string": b"", "app": app}
    return any(route.matches(scope)[0] is Match.FULL for route in app.router.routes)


@pytest.fixture(params=DOCKERFILES, ids=lambda p: p.name)
def dockerfile(request: pytest.FixtureRequest) -> list[Instruction]:
    path: Path = request.param
    return dockerfile_instructions(path)


def test_every_copied_file_exists_and_is_in_the_build_context(
        dockerfile: list[Instruction]) -> None:
    patterns = dockerignore_patterns()
    copied = 0
    for ins in dockerfile:
        if ins.keyword not in ("COPY", "ADD"):
            continue
        assert ins.keyword == "COPY", "use COPY, not ADD"
        sources, _, stage = copy_sources(ins.args)
        if stage is not None:
            continue
        for source in sources:
            assert (REPO / source).exists(), f"COPY {source}: no such file in the repository"
            assert dockerignore_allows(source, patterns), f"COPY {source}: .dockerignore drops it"
            copied += 1
    assert copied >= 4


def test_the_build_context_leaves_out_environments_and_models() -> None:
    patterns = dockerignore_patterns()
    for path in (".venv/bin/python", ".git/config", "src/gazeserve.egg-info/PKG-INFO",
                 "src/gazeserve/__pycache__/x.pyc", "tests/conftest.py", "models/x.tflite"):
        assert not dockerignore_allows(path, patterns), path
    for path in ("pyproject.toml", "src/gazeserve/cli.py", "deploy/docker/entrypoint.sh"):
        assert dockerignore_allows(path, patterns), path


def test_models_are_prepared_at_build_time_where_the_service_reads_them(
        dockerfile: list[Instruction]) -> None:
    commands = [cmd for ins in dockerfile if ins.keyword == "RUN"
                for cmd in gazeserve_commands(ins.args)]
    model_dir = final_env(dockerfile)["GAZE_MODEL_DIR"]
    assert ["gazeserve", "models", "prepare", "--model-dir", model_dir] in commands
    assert ["gazeserve", "models", "verify", "--model-dir", model_dir] in commands
    copied_from_build = [copy_sources(ins.args) for ins in final_stage(dockerfile)
                         if ins.keyword == "COPY" and "--from=" in ins.args]
    assert ([model_dir], model_dir, "build") in copied_from_build


def test_the_attention_delegate_is_built_where_the_service_loads_it(
        dockerfile: list[Instruction]) -> None:
    commands = [cmd for ins in dockerfile if ins.keyword == "RUN"
                for cmd in gazeserve_commands(ins.args)]
    assert ["gazeserve.native.build"] in commands
    build_env: dict[str, str] = {}
    for ins in dockerfile[:len(dockerfile) - len(final_stage(dockerfile))]:
        if ins.keyword == "ENV":
            build_env.update(env_assignments(ins.args))
    native_dir = final_env(dockerfile)[NATIVE_ENV]
    assert build_env[NATIVE_ENV] == native_dir
    copied_from_build = [copy_sources(ins.args) for ins in final_stage(dockerfile)
                         if ins.keyword == "COPY" and "--from=" in ins.args]
    assert ([native_dir], native_dir, "build") in copied_from_build


def test_installs_extras_the_project_has(dockerfile: list[Instruction]) -> None:
    extras = set()
    for ins in dockerfile:
        if ins.keyword == "RUN":
            extras |= pip_install_extras(ins.args)
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert "server" in extras
    assert extras <= set(declared.get("optional-dependencies", {}))


def test_runs_as_a_non_root_user(dockerfile: list[Instruction]) -> None:
    users = [ins.args for ins in final_stage(dockerfile) if ins.keyword == "USER"]
    assert users and users[-1] not in ("root", "0")
    last_user = max(i for i, ins in enumerate(dockerfile) if ins.keyword == "USER")
    assert all(ins.keyword in ("ENV", "WORKDIR", "EXPOSE", "HEALTHCHECK", "ENTRYPOINT", "CMD",
                               "LABEL") for ins in dockerfile[last_user + 1:])


def test_healthcheck_asks_readyz_which_the_app_serves(dockerfile: list[Instruction]) -> None:
    checks = [ins.args for ins in dockerfile if ins.keyword == "HEALTHCHECK"]
    assert len(checks) == 1
    command = exec_form(checks[0].split(" CMD ", 1)[1])
    script = command[-1]
    assert (script, ) == tuple(s for s in command if s.endswith("healthcheck"))
    copied = {dest: sources for sources, dest, stage in
              (copy_sources(ins.args) for ins in dockerfile if ins.keyword == "COPY")
              if stage is None}
    assert copied[script] == ["deploy/docker/healthcheck.py"]
    assert '/readyz"' in HEALTHCHECK_SCRIPT.read_text()
    assert app_serves("/readyz")


def test_entrypoint_listens_where_the_image_says(dockerfile: list[Instruction]) -> None:
    entrypoints = [exec_form(ins.args) for ins in dockerfile if ins.keyword == "ENTRYPOINT"]
    assert len(entrypoints) == 1
    copied = {dest: sources for sources, dest, stage in
              (copy_sources(ins.args) for ins in dockerfile if ins.keyword == "COPY")
              if stage is None}
    assert copied[entrypoints[0][0]] == ["deploy/docker/entrypoint.sh"]
    env = final_env(dockerfile)
    assert env["GAZE_HOST"] == "0.0.0.0"
    exposed = [ins.args for ins in dockerfile if ins.keyword == "EXPOSE"]
    assert exposed == [env["GAZE_PORT"]]


def test_environment_names_are_real_settings(dockerfile: list[Instruction]) -> None:
    known = (SETTING_NAMES | ENTRYPOINT_VARIABLES | GENERIC_VARIABLES | NOT_YET_SETTINGS
             | {NATIVE_ENV})
    for ins in dockerfile:
        if ins.keyword == "ENV":
            unknown = set(env_assignments(ins.args)) - known
            assert not unknown, f"ENV {sorted(unknown)}: not a gazeserve setting"


def test_cpu_images_are_slim_python_311() -> None:
    for path in (DOCKER / "Dockerfile", DOCKER / "Dockerfile.optimized"):
        args = [ins.args for ins in dockerfile_instructions(path) if ins.keyword == "ARG"]
        assert "PYTHON_IMAGE=python:3.11-slim-bookworm" in args


def test_gpu_image_runs_the_onnx_engine_on_onnxruntime_gpu() -> None:
    instructions = dockerfile_instructions(DOCKER / "Dockerfile.gpu")
    args = dict(a.args.split("=", 1) for a in instructions if a.keyword == "ARG")
    assert args["CUDA_IMAGE"].startswith("nvidia/cuda:13.")
    runs = " ".join(ins.args for ins in instructions if ins.keyword == "RUN")
    assert '"onnxruntime-gpu==${ORT_GPU_VERSION}"' in runs
    assert "pip uninstall -y onnxruntime" in runs
    env = final_env(instructions)
    assert env["GAZE_ENGINE"] == "onnx"
    assert env["MAX_WORKERS"] == env["GAZE_MAX_BATCH"], "a batch never holds more frames " \
        "than there are workers"


def test_optimized_is_the_cpu_image_with_the_per_core_profile() -> None:
    plain = dockerfile_instructions(DOCKER / "Dockerfile")
    optimized = dockerfile_instructions(DOCKER / "Dockerfile.optimized")
    assert [i for i in plain if i.keyword != "ENV"] == [i for i in optimized if i.keyword != "ENV"]
    env = final_env(optimized)
    assert env["GAZE_PROCESSES"] == "auto" and env["MAX_WORKERS"] == "1"
    assert env["DROP_OLD_FRAMES"] == "true" and env["MAX_FRAME_AGE_MS"] == "200"
    assert final_env(plain)["GAZE_PROCESSES"] == "1"


# --- entrypoint.sh, with a stand-in `gazeserve` at the process boundary -------------------------


def run_entrypoint(tmp_path: Path, env: dict[str, str], *args: str) -> tuple[list[str], str]:
    """Runs entrypoint.sh with a `gazeserve` that records its arguments and MAX_WORKERS."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    record = tmp_path / "record"
    fake = bin_dir / "gazeserve"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$MAX_WORKERS" "$@" > "{record}"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    full_env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", **env}
    subprocess.run(["sh", str(ENTRYPOINT_SCRIPT), *args], env=full_env, check=True, timeout=10)
    max_workers, *argv = record.read_text().splitlines()
    return argv, max_workers


def test_entrypoint_passes_processes_and_threads(tmp_path: Path) -> None:
    argv, max_workers = run_entrypoint(tmp_path, {"GAZE_PROCESSES": "3", "MAX_WORKERS": "2"},
                                       "--log-level", "debug")
    assert argv == ["serve", "--workers", "3", "--log-level", "debug"]
    assert max_workers == "2"


def test_entrypoint_auto_is_the_cpus_this_container_may_use(tmp_path: Path) -> None:
    argv, max_workers = run_entrypoint(tmp_path, {"GAZE_PROCESSES": "auto", "MAX_WORKERS": "auto"})
    cpus = len(os.sched_getaffinity(0))
    quota = Path("/sys/fs/cgroup/cpu.max")
    if quota.exists() and not quota.read_text().startswith("max"):
        limit, period = (int(v) for v in quota.read_text().split())
        cpus = -(-limit // period)
    assert argv == ["serve", "--workers", str(cpus)]
    assert max_workers == str(cpus)


def test_entrypoint_defaults_to_one_process(tmp_path: Path) -> None:
    argv, max_workers = run_entrypoint(tmp_path, {})
    assert argv == ["serve", "--workers", "1"]
    assert int(max_workers) >= 1


# --- compose.yaml -------------------------------------------------------------------------------


def test_compose_builds_from_existing_files() -> None:
    compose = load_yaml(COMPOSE)
    build = compose["services"]["gazeserve"]["build"]
    context = (DEPLOY / build["context"]).resolve()
    assert context == REPO
    assert (context / build["dockerfile"]).is_file()


def test_compose_mounts_existing_files() -> None:
    compose = load_yaml(COMPOSE)
    named = set(compose.get("volumes", {}))
    mounts = 0
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source in named:
                continue
            assert source.startswith("."), f"bind mount {source!r} must be relative to deploy/"
            assert (DEPLOY / source).exists(), f"{source} does not exist"
            mounts += 1
    assert mounts >= 3


def _mounted(service: dict[str, Any], container_path: str) -> Path:
    """The file in deploy/ that `container_path` shows inside the service."""
    for volume in service["volumes"]:
        source, target = str(volume).split(":")[:2]
        if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
            return Path(DEPLOY / source / container_path[len(target):].lstrip("/"))
    raise AssertionError(f"{container_path} is not mounted")


def test_compose_prometheus_loads_our_config_and_scrapes_gazeserve() -> None:
    compose = load_yaml(COMPOSE)
    prometheus = compose["services"]["prometheus"]
    flags = dict(f.split("=", 1) for f in prometheus["command"] if "=" in f)
    config_path = _mounted(prometheus, flags["--config.file"])
    assert config_path.resolve() == (DEPLOY / "prometheus" / "prometheus.yml").resolve()
    config = load_yaml(config_path)
    for rule_file in config["rule_files"]:
        assert (config_path.parent / rule_file).is_file()
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    targets = jobs["gazeserve"]["static_configs"][0]["targets"]
    port = final_env(dockerfile_instructions(DOCKER / "Dockerfile"))["GAZE_PORT"]
    assert targets == [f"gazeserve:{port}"]
    assert app_serves(jobs["gazeserve"].get("metrics_path", "/metrics"))


def test_compose_grafana_provisions_the_datasource_and_dashboard() -> None:
    compose = load_yaml(COMPOSE)
    grafana = compose["services"]["grafana"]
    provisioning = _mounted(grafana, "/etc/grafana/provisioning")
    datasources = load_yaml(provisioning / "datasources" / "prometheus.yml")["datasources"]
    assert datasources[0]["url"] == "http://prometheus:9090"
    providers = load_yaml(provisioning / "dashboards" / "gazeserve.yml")["providers"]
    dashboards = _mounted(grafana, providers[0]["options"]["path"])
    assert (dashboards / "gazeserve.json").is_file()
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert _mounted(grafana, home).is_file()


def test_compose_sets_only_real_settings() -> None:
    compose = load_yaml(COMPOSE)
    environment = compose["services"]["gazeserve"]["environment"]
    assert set(environment) <= SETTING_NAMES | ENTRYPOINT_VARIABLES
