"""Security properties of a deployment: secrets stay secret, endpoints stay local, config stays data.

credentials in camera URIs never reach logs, /metrics, traces, events or summary.json
HTTP endpoints listen on 127.0.0.1 and ZeroMQ sockets bind ipc:// or loopback by default
YAML is loaded safely: Python tags are refused, not executed
pyfunc modules are imported only from the module's own project
no shell command is ever built from input (static check of the code)
"""

from __future__ import annotations

import ast
import re
import shutil
import socket
import sys
from pathlib import Path

import pytest

from pyuniproc.config.cameras import load_cameras
from pyuniproc.config.module import PyFuncSpec, load_module_config
from pyuniproc.config.yaml_source import ConfigError
from pyuniproc.runtime.pyfunc_host import load_pyfunc
from pyuniproc.telemetry import Telemetry, TelemetryConfig

REPO = Path(__file__).resolve().parents[2]
MODULE = REPO / "module" / "module.yml"
CODE_DIRS = [REPO / "pyuniproc", REPO / "module", REPO / "adapters"]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
sys.path.insert(0, str(REPO / "tests" / "telemetry"))


def python_files() -> list[Path]:
    return sorted(p for d in CODE_DIRS if d.exists() for p in d.rglob("*.py"))


def dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else ""


# -- credentials --------------------------------------------------------------------------------


# -- local endpoints ----------------------------------------------------------------------------


def non_loopback_address() -> str | None:
    """An address of this machine other than loopback, if it has one."""
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        return None
    for info in infos:
        address = info[4][0]
        if not address.startswith("127."):
            return address
    return None


def test_http_endpoints_listen_on_loopback_by_default(monkeypatch):
    assert TelemetryConfig().metrics.host == "127.0.0.1"
    monkeypatch.delenv("TELEMETRY_HOST", raising=False)
    assert load_module_config(MODULE).runtime.telemetry.metrics.host == "127.0.0.1"
    config = TelemetryConfig.from_mapping({"metrics": {"port": 0}})
    telemetry = Telemetry(config).start(strict=True)
    try:
        port = int(telemetry.url.rsplit(":", 1)[1])
        assert telemetry.url.startswith("http://127.0.0.1:")
        other = non_loopback_address()
        if other is not None:
            with socket.socket() as probe:
                probe.settimeout(2)
                assert probe.connect_ex((other, port)) != 0, f"/metrics reachable on {other}"
    finally:
        telemetry.stop()


def test_no_code_default_listens_on_all_interfaces():
    """Every string default of a parameter or field named like a listen address is loopback."""
    names = {"host", "bind", "bind_host", "listen", "listen_host", "address"}
    bad = []
    for path in python_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            pairs = []
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = node.args
                positional = args.posonlyargs + args.args
                pairs += list(
                    zip(positional[len(positional) - len(args.defaults) :], args.defaults, strict=True)
                )
                pairs += [
                    (a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None
                ]
                pairs = [(a.arg, d) for a, d in pairs]
            elif (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and node.value is not None
            ):
                pairs = [(node.target.id, node.value)]
            for name, default in pairs:
                if (
                    name in names
                    and isinstance(default, ast.Constant)
                    and isinstance(default.value, str)
                    and default.value
                    and default.value not in LOOPBACK
                ):
                    bad.append(f"{path.relative_to(REPO)}:{default.lineno}: {name}={default.value!r}")
    assert not bad


def test_zeromq_sockets_bind_locally():
    """Endpoints in code and deployment files bind ipc:// or a loopback TCP address, never 0.0.0.0 / *."""
    pattern = re.compile(r"\+bind:tcp://(\[[^\]]*\]|[^:/\s'\"]+)")
    files = (
        python_files()
        + [p for p in (REPO / "docker-compose.yml",) if p.exists()]
        + sorted((REPO / "docker").rglob("*"))
        + [MODULE]
    )
    bad = [
        f"{path.relative_to(REPO)}: {m.group(0)}"
        for path in files
        if path.is_file()
        for m in pattern.finditer(path.read_text(errors="replace"))
        if m.group(1) not in LOOPBACK
    ]
    assert not bad


# -- YAML and pyfuncs ---------------------------------------------------------------------------


@pytest.mark.parametrize("loader", [load_module_config, load_cameras], ids=["module", "cameras"])
def test_python_tags_in_yaml_are_refused_not_run(tmp_path, loader):
    marker = tmp_path / "pwned"
    path = tmp_path / "config.yml"
    path.write_text(
        f"name: !!python/object/apply:os.mkdir ['{marker}']\n"
        f"cameras: !!python/object/apply:os.mkdir ['{marker}']\n"
    )
    with pytest.raises(ConfigError, match="config.yml"):
        loader(path)
    assert not marker.exists()


def test_yaml_is_only_ever_loaded_safely():
    unsafe_loaders = {"Loader", "FullLoader", "UnsafeLoader"}
    bad = []
    for path in python_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            name = dotted(node.func)
            loader = next((dotted(k.value) for k in node.keywords if k.arg == "Loader"), "")
            if name in (
                "yaml.unsafe_load",
                "yaml.full_load",
                "yaml.unsafe_load_all",
                "yaml.full_load_all",
            ) or (
                name in ("yaml.load", "yaml.load_all")
                and (not loader or loader.split(".")[-1] in unsafe_loaders)
            ):
                bad.append(f"{path.relative_to(REPO)}:{node.lineno}: {name}")
    assert not bad


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A module project of its own (module YAML + pyfuncs), like a deployment's project folder."""
    root = tmp_path / "project"
    (root / "module").mkdir(parents=True)
    shutil.copy(MODULE, root / "module" / "module.yml")
    shutil.copytree(REPO / "module" / "pyfuncs", root / "module" / "pyfuncs")
    (root / "module" / "__init__.py").write_text("")
    return root / "module" / "module.yml"


def test_pyfuncs_are_imported_only_from_the_module_project(project, tmp_path, monkeypatch):
    elsewhere = tmp_path / "site-packages"
    (elsewhere / "evilpkg").mkdir(parents=True)
    marker = tmp_path / "imported"
    (elsewhere / "evilpkg" / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    (elsewhere / "evilpkg" / "plugin.py").write_text(
        "class Plugin:\n    def process_frame(self, b, m): pass\n"
    )
    monkeypatch.syspath_prepend(str(elsewhere))  # importable, like any installed package
    for module, class_name in (
        ("evilpkg.plugin", "Plugin"),
        ("os", "system"),
        ("subprocess", "Popen"),
        ("pyuniproc.savant_api", "PyFuncPlugin"),
    ):
        with pytest.raises(ConfigError, match="loaded only from the module's project"):
            load_pyfunc(PyFuncSpec(module, class_name, {}, line=7), project)
    assert not marker.exists()  # refused before anything was imported
    plugin = load_pyfunc(PyFuncSpec("module.pyfuncs.analytics", "PeopleAnalytics", {}), project)
    assert callable(plugin.process_frame)


# -- no shell -----------------------------------------------------------------------------------


def test_no_shell_commands_anywhere_in_the_code():
    """No os.system/os.popen, no shell=True, no eval/exec: nothing can turn input into a command."""
    banned = {
        "os.system",
        "os.popen",
        "subprocess.getoutput",
        "subprocess.getstatusoutput",
        "asyncio.create_subprocess_shell",
        "eval",
        "exec",
        "os.execl",
        "os.execlp",
        "os.spawnl",
    }
    spawners = {
        "subprocess.run",
        "subprocess.Popen",
        "subprocess.call",
        "subprocess.check_call",
        "subprocess.check_output",
    }
    bad = []
    for path in python_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            name = dotted(node.func)
            shell = any(
                k.arg == "shell" and not (isinstance(k.value, ast.Constant) and k.value.value is False)
                for k in node.keywords
            )
            if name in banned or (name in spawners and shell):
                bad.append(f"{path.relative_to(REPO)}:{node.lineno}: {name}")
            if name in spawners and node.args and isinstance(node.args[0], (ast.JoinedStr, ast.BinOp)):
                bad.append(f"{path.relative_to(REPO)}:{node.lineno}: {name} with a command built as a string")
    assert not bad
