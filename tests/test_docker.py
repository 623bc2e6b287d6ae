"""docker/ without a Docker engine: the compose file, the nginx configs and the Dockerfile, checked.

Every service command must name a real stack, every port and nginx upstream must line up, the
nginx configurations must be the template's current rendering and pass ``nginx -t``, and the
Dockerfile's own snippets (requirements from pyproject.toml, the healthcheck) must work.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.http.request import validate_host

from compare import REPO_ROOT
from compare.servers import nginx
from compare.servers.server import PROBE_HOST_HEADER, allowed_hosts, probe_address
from compare.servers.stacks import STACKS
from compare.settings import DSC_ALLOWED_HOSTS
from compare.system.ports import free_port
from tests.helpers import no_new_children

DOCKER = REPO_ROOT / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
APP_STACKS = (*nginx.DOCKER_DEFAULT_STACKS, *nginx.DOCKER_MORE_STACKS)
NGINX_SERVICES = {"nginx": "nginx.conf", "nginx-more": "nginx-more.conf"}
KNOWN_KEYS = {
    "build",
    "image",
    "init",
    "environment",
    "command",
    "ports",
    "profiles",
    "volumes",
    "depends_on",
    "healthcheck",
}
# Django's host validation (django.http.request.host_validation_re), without the port.
DJANGO_HOST = re.compile(r"^[a-z0-9.-]+$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    yaml = pytest.importorskip(
        "yaml", reason="PyYAML is not installed: pip install pyyaml (part of the dev extra)"
    )
    data: dict[str, Any] = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def serve_command(stack: str) -> list[str]:
    """What a stack service must run: the local runner's own code path."""
    port = str(nginx.DOCKER_APP_PORT)
    return ["python", "-m", "compare", "serve", stack, "--host", "0.0.0.0", "--port", port]


def test_services_and_their_keys(compose: dict[str, Any]) -> None:
    assert set(compose) <= {"name", "services", "volumes"} | {k for k in compose if k[:2] == "x-"}
    services = compose["services"]
    assert set(services) == {*APP_STACKS, *NGINX_SERVICES, "locust", "locust-worker"}
    for name, service in services.items():
        assert set(service) <= KNOWN_KEYS, f"{name}: unexpected {set(service) - KNOWN_KEYS}"
        assert all(isinstance(arg, str) for arg in service["command"]), name


@pytest.mark.parametrize("stack", APP_STACKS)
def test_each_stack_service_serves_a_real_stack(
    services: dict[str, dict[str, Any]], stack: str
) -> None:
    service = services[stack]
    assert service["command"] == serve_command(stack)
    assert STACKS[stack].front is None  # nginx is its own service in docker
    assert service["environment"]["DSC_PORT"] == str(nginx.DOCKER_APP_PORT)  # the healthcheck's
    more = stack in nginx.DOCKER_MORE_STACKS
    assert service.get("profiles", []) == (["more"] if more else [])
    assert service["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}
    assert service["init"] is True  # compare serve is not an init: something must reap orphans
    # One SQLite database for every stack, where the image's settings look for it.
    assert service["volumes"] == [f"data:{data_dir()}"]


def data_dir() -> str:
    """DJANGO_DATA_DIR as the Dockerfile sets it."""
    match = re.search(r"DJANGO_DATA_DIR=(\S+)", DOCKERFILE.read_text())
    assert match is not None
    return match[1]


def test_the_data_volume_is_declared(compose: dict[str, Any]) -> None:
    assert set(compose["volumes"]) == {"data"}


def published(service: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(address, host port, container port) for each published port."""
    out = []
    for spec in service.get("ports", []):
        address, host, container = spec.split(":")
        out.append((address, int(host), int(container)))
    return out


def test_ports_are_loopback_only_distinct_and_match_the_listeners(
    services: dict[str, dict[str, Any]],
) -> None:
    host_ports = []
    for name, service in services.items():
        for address, host, container in published(service):
            assert address == "127.0.0.1", f"{name} publishes on {address}"
            host_ports.append(host)
            if name in APP_STACKS:
                assert container == nginx.DOCKER_APP_PORT
            elif name in NGINX_SERVICES:
                assert container == nginx.DOCKER_NGINX_PORT
            else:
                assert (name, container) == ("locust", 8089)
    assert len(host_ports) == len(set(host_ports))
    assert "ports" not in services["locust-worker"]  # a fixed host port would stop --scale
    assert "container_name" not in services["locust-worker"]


def upstream_servers(conf: str) -> dict[str, str]:
    """upstream block name -> its server address."""
    blocks = re.findall(r"upstream (\S+) \{\s*server (\S+);", conf)
    return dict(blocks)


@pytest.mark.parametrize(("service_name", "conf_name"), NGINX_SERVICES.items())
def test_nginx_services_front_every_stack_they_depend_on(
    services: dict[str, dict[str, Any]], service_name: str, conf_name: str
) -> None:
    service = services[service_name]
    stacks = nginx.DOCKER_CONFS[conf_name]
    assert service["volumes"] == [f"./nginx/{conf_name}:/etc/nginx/nginx.conf:ro"]
    conf = (DOCKER / "nginx" / conf_name).read_text()
    assert conf == nginx.render_docker(stacks), "run 'python -m compare.servers.nginx docker'"
    # nginx resolves upstream names when it starts: each must be a running, healthy service.
    assert service["depends_on"] == {s: {"condition": "service_healthy"} for s in stacks}
    for stack in stacks:
        assert stack in services and stack in APP_STACKS
        if "profiles" in services[stack]:
            assert service.get("profiles") == services[stack]["profiles"]
    servers = upstream_servers(conf)
    assert servers == {nginx.upstream_name(s): f"{s}:{nginx.DOCKER_APP_PORT}" for s in stacks}
    for stack in stacks:
        for prefix in (nginx.docker_route_prefix(stack, b) for b in (False, True)):
            assert f"location {prefix} {{" in conf
    # The same way the local stacks run nginx: foreground, error log to stderr.
    expected = nginx.nginx_argv("nginx", Path("/var/cache/nginx"), Path("/etc/nginx/nginx.conf"))
    assert service["command"] == expected
    assert service["image"].startswith("nginx:")


def test_stacks_answer_to_every_name_they_are_reached_by(
    services: dict[str, dict[str, Any]],
) -> None:
    # nginx passes the client's host name on ($host); locust may also talk to a stack directly.
    wanted = {*APP_STACKS, *NGINX_SERVICES}
    for stack in APP_STACKS:
        hosts = services[stack]["environment"]["DSC_ALLOWED_HOSTS"].split(",")
        assert set(hosts) == wanted
        assert all(DJANGO_HOST.match(host) for host in hosts), hosts


def test_locust_master_and_scalable_workers(services: dict[str, dict[str, Any]]) -> None:
    master, worker = services["locust"], services["locust-worker"]
    for service in (master, worker):
        args = service["command"]
        assert args[:3] == ["locust", "-f", "loadtests/locustfile.py"]
        assert (REPO_ROOT / args[2]).is_file()
        assert service["healthcheck"] == {"disable": True}  # no /healthz in a locust container
        assert service["image"] == services["uvicorn"]["image"]  # one image for every role
    assert "--master" in master["command"] and "--class-picker" in master["command"]
    host = master["command"][master["command"].index("--host") + 1]
    assert host == f"http://nginx:{nginx.DOCKER_NGINX_PORT}/unbuffered/uvicorn"
    assert f"location {host.split(':8080')[1]}/ {{" in (DOCKER / "nginx" / "nginx.conf").read_text()
    args = worker["command"]
    assert "--worker" in args and args[args.index("--master-host") + 1] == "locust"
    assert worker["depends_on"] == ["locust"]


@pytest.mark.skipif(nginx.find_nginx() is None, reason=f"nginx missing: {nginx.INSTALL_HINT}")
@pytest.mark.parametrize("conf_name", sorted(NGINX_SERVICES.values()))
def test_nginx_accepts_the_docker_configs(conf_name: str, tmp_path: Path) -> None:
    binary = nginx.find_nginx()
    assert binary is not None
    conf = (DOCKER / "nginx" / conf_name).read_text()
    # The service names resolve only inside compose: point them at loopback, change nothing else.
    for name in APP_STACKS:
        conf = conf.replace(f"server {name}:", "server 127.0.0.1:")
    path = tmp_path / conf_name
    path.write_text(conf)
    done = nginx.check_config(binary, path, tmp_path / "prefix")
    assert done.returncode == 0, done.stderr


# --- the Dockerfile ----------------------------------------------------------------------------


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", "", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def test_dockerfile_is_multi_stage_slim_and_non_root() -> None:
    froms = [args for word, args in instructions() if word == "FROM"]
    assert len(froms) == 2 and froms[0].endswith(" AS build")
    assert all("slim" in args for args in froms)
    final = final_stage()
    users = [args for word, args in final if word == "USER"]
    assert users and users[-1] not in {"root", "0"}
    text = " ".join(args for _, args in final)
    for tool in ("gcc", "build-essential", "apt-get install", "curl", "wget"):
        assert tool not in text, f"{tool} in the final stage"
    assert "COPY --from=build /opt/venv /opt/venv" in {f"{w} {a}" for w, a in final}


def test_dockerfile_copies_only_what_exists_and_is_not_ignored() -> None:
    ignore = (DOCKER / "Dockerfile.dockerignore").read_text().split()
    for word, args in instructions():
        if word == "COPY" and not args.startswith("--from"):
            source = args.split()[0]
            assert (REPO_ROOT / source).exists(), source
            assert f"!{source}" in ignore, f"{source} is excluded from the build context"


def test_dockerfile_installs_the_dependencies_of_pyproject(tmp_path: Path) -> None:
    import tomllib

    run = next(args for word, args in instructions() if word == "RUN" and "tomllib" in args)
    command, _, target = run.partition(" > ")
    assert target == "/src/requirements.txt"
    argv = shlex.split(command)
    assert argv[:2] == ["python", "-c"]
    code = argv[2].replace("/src/pyproject.toml", str(REPO_ROOT / "pyproject.toml"))
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    for extras, wanted in (
        ("", project["dependencies"]),
        ("dev", project["dependencies"] + project["optional-dependencies"]["dev"]),
    ):
        env = {"EXTRAS": extras, "PATH": "/usr/bin:/bin"}
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
        )
        assert done.stdout.splitlines() == wanted
    pip = [args for word, args in instructions() if word == "RUN" and "pip install" in args]
    assert pip == ["/opt/venv/bin/pip install --requirement /src/requirements.txt"]


def healthcheck_argv() -> list[str]:
    check = next(args for word, args in final_stage() if word == "HEALTHCHECK")
    argv: list[str] = json.loads(check[check.index("CMD ") + 4 :])
    return argv


def test_dockerfile_default_command_serves_a_real_stack() -> None:
    cmd = default_command()
    assert cmd == serve_command(cmd[4])
    assert cmd[4] in STACKS


def default_command() -> list[str]:
    """The image's CMD."""
    cmd: list[str] = json.loads(next(args for word, args in final_stage() if word == "CMD"))
    return cmd


def image_env(extra: dict[str, str]) -> dict[str, str]:
    """Our environment with the image's settings (Dockerfile ENV) and ``extra``, nothing else."""
    env = {k: v for k, v in os.environ.items() if k != DSC_ALLOWED_HOSTS.name}
    for word, args in final_stage():
        if word == "ENV":
            pairs = (pair.split("=", 1) for pair in shlex.split(args))
            env.update((name, value) for name, value in pairs if "$" not in value)  # not PATH
    return {**env, **extra}


@pytest.mark.parametrize("stack", APP_STACKS)
def test_each_stack_service_passes_the_readiness_probe_on_its_wildcard_address(
    services: dict[str, dict[str, Any]], stack: str
) -> None:
    # What ServerProcess's probe needs of a stack bound to 0.0.0.0 with the service's hosts.
    command = services[stack]["command"]
    assert probe_address(command[command.index("--host") + 1]) == "127.0.0.1"
    name = DSC_ALLOWED_HOSTS.name
    hosts = allowed_hosts({name: services[stack]["environment"][name]})
    assert validate_host(PROBE_HOST_HEADER, hosts.split(","))


@pytest.mark.server
@pytest.mark.parametrize("source", ["Dockerfile CMD", "compose uvicorn"])
def test_the_images_command_becomes_ready_on_all_addresses_and_healthy(
    services: dict[str, dict[str, Any]], source: str, tmp_path: Path
) -> None:
    # The container's command as it runs there (0.0.0.0, the image's and the service's
    # environment), on a free port and this checkout's python instead of the image's.
    if source == "Dockerfile CMD":
        argv, extra = default_command(), {}
    else:
        argv, extra = list(services["uvicorn"]["command"]), services["uvicorn"]["environment"]
    port = free_port("0.0.0.0")
    argv[0], argv[argv.index("--port") + 1] = sys.executable, str(port)
    env = image_env({**extra, "DSC_PORT": str(port), "DJANGO_DATA_DIR": str(tmp_path)})
    check = healthcheck_argv()
    assert check[0] == "python" and "/healthz" in check[-1]  # no curl needed in the image
    check[0] = sys.executable
    with no_new_children():
        proc = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            assert proc.stdout is not None
            output = []
            for line in proc.stdout:  # ends when serve does: a stack that never gets ready
                output.append(line)
                if " serving at " in line:
                    break
            assert proc.poll() is None, "".join(output)
            done = subprocess.run(check, env=env, capture_output=True, timeout=30)
            assert done.returncode == 0, done.stderr
        finally:
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=30)
    # Stopped: nothing listens there now, and the healthcheck says so.
    assert subprocess.run(check, env=env, capture_output=True, timeout=30).returncode != 0
