"""`pyuniproc compose`: write or check docker-compose.yml for the Savant deployment from the cameras file.

    pyuniproc compose --cameras site/cameras.yml                      # writes ./docker-compose.yml
    pyuniproc compose --cameras site/cameras.yml --env-file .env      # + camera URIs into .env (private)
    pyuniproc compose --cameras site/cameras.yml --check              # exit 1 if out of date or unsound
    pyuniproc compose --cameras site/cameras.yml --tracker-config module/tracker/config_tracker_NvSORT.yml
    pyuniproc compose --cameras site/cameras.yml --runtime embedded   # no GPU: docker-compose.embedded.yml
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import yaml

from pyuniproc.module_files import default_module_file

DEFAULT_OUT = "docker-compose.yml"
DEFAULT_EMBEDDED_OUT = "docker-compose.embedded.yml"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compose", help="write docker-compose.yml for the Savant deployment from the cameras file",
        description="Generate or update docker-compose.yml: one source adapter per camera of the cameras "
                    "file plus the module, fusion, sinks, Jaeger, Prometheus, Grafana, Kafka and Etcd. "
                    "See docs/deploy-savant.md.")
    parser.add_argument("--cameras", type=Path, required=True, help="cameras file (docs/cameras-file.md)")
    parser.add_argument("--out", type=Path,
                        help=f"compose file (default {DEFAULT_OUT}; {DEFAULT_EMBEDDED_OUT} with "
                             "--runtime embedded)")
    parser.add_argument("--runtime", choices=("savant", "embedded"), default="savant",
                        help="savant: the DeepStream module on a GPU (default); embedded: `pyuniproc serve` "
                             "on a CPU behind the same Savant adapters (docs/deploy-savant.md)")
    parser.add_argument("--platform", choices=("x86", "l4t"), default="x86",
                        help="x86 with a dGPU, or l4t for Jetson (default x86)")
    parser.add_argument("--env-file", type=Path,
                        help="write the network cameras' URIs (and a Grafana admin password if missing) to "
                             "this dotenv file, mode 0600; keep it out of version control")
    parser.add_argument("--tracker-config", type=Path,
                        help="also write DeepStream's NvSORT config from parameters.tracker of --module")
    parser.add_argument("--module", type=Path, default=default_module_file(),
                        help="module YAML for --tracker-config and --check (default %(default)s)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if --out is out of date or has problems, or if "
                             "--module fails the Savant schema check")
    parser.set_defaults(func=compose_command)


def compose_command(args: argparse.Namespace) -> int:
    from pyuniproc.config.cameras import load_cameras
    from pyuniproc.deploy.check import check_compose
    from pyuniproc.deploy.compose import ComposeOptions, write_compose
    from pyuniproc.deploy.embedded import embedded_images
    from pyuniproc.deploy.envfile import camera_env, new_password, read_env_file, redact_uri, update_env_file
    from pyuniproc.deploy.images import SavantImages

    site = load_cameras(args.cameras)
    embedded = args.runtime == "embedded"
    out: Path = args.out or Path(DEFAULT_EMBEDDED_OUT if embedded else DEFAULT_OUT)
    images = embedded_images(args.platform) if embedded else SavantImages(platform=args.platform)
    options = ComposeOptions(compose_dir=out.resolve().parent, cameras_file=args.cameras, images=images,
                             runtime=args.runtime,
                             output_dir="./out/embedded" if embedded else "./out/savant")
    if args.check:
        return _check(site, out, options, args.module)

    text, warnings = write_compose(site, out, options)
    for warning in warnings:
        print(f"pyuniproc compose: warning: {warning}", file=sys.stderr)
    problems = check_compose(yaml.safe_load(text), site)
    cameras = ", ".join(c.id for c in site.cameras)
    print(f"wrote {out}: {len(site.cameras)} camera source(s) ({cameras})")
    variables = camera_env(site)
    for name, uri in variables.items():
        print(f"  {name} = {redact_uri(uri)}")
    if args.env_file:
        values = dict(variables)
        if not embedded and "GRAFANA_ADMIN_PASSWORD" not in read_env_file(args.env_file):
            values["GRAFANA_ADMIN_PASSWORD"] = new_password()
        changed = update_env_file(args.env_file, values)
        print(f"wrote {args.env_file} (mode 0600): {', '.join(changed) or 'unchanged'}")
    elif variables:
        also = "" if embedded else " and GRAFANA_ADMIN_PASSWORD"
        print(f"set {', '.join(variables)}{also} in .env (or pass --env-file .env)")
    if args.tracker_config:
        _write_tracker_config(args.module, args.tracker_config)
    for problem in problems:
        print(f"pyuniproc compose: problem: {problem}", file=sys.stderr)
    return 1 if problems else 0


def _check(site, out: Path, options, module_path: Path) -> int:
    from pyuniproc.deploy.check import check_compose
    from pyuniproc.deploy.compose import write_compose
    from pyuniproc.deploy.savant_module import check_module_yaml

    if not out.is_file():
        print(f"pyuniproc compose: {out} does not exist", file=sys.stderr)
        return 1
    current = out.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp) / out.name
        scratch.write_text(current, encoding="utf-8")
        expected, _ = write_compose(site, scratch, options)
    problems = check_compose(yaml.safe_load(current), site)
    problems += [f"{module_path}: {p}" for p in check_module_yaml(module_path)]
    if expected != current:
        problems.insert(0, f"{out} is out of date with {options.cameras_file}: run pyuniproc compose")
    for problem in problems:
        print(f"pyuniproc compose: {problem}", file=sys.stderr)
    if not problems:
        print(f"{out}: up to date, no problems")
    return 1 if problems else 0


def _write_tracker_config(module_path: Path, out: Path) -> None:
    from pyuniproc.config.module import load_module_config
    from pyuniproc.deploy.tracker import write_nvsort_yaml

    module = load_module_config(module_path)
    write_nvsort_yaml({"kind": module.tracker.kind, **module.tracker.params}, out, source=str(module_path))
    print(f"wrote {out} from parameters.tracker of {module_path}")


__all__ = ["compose_command", "register"]
