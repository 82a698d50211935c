"""Subcommand ``dashboard``: serve the classroom dashboard (Mesa SolaraViz) on localhost."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import errno
import json
import os
import socket
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

from sim.cli.options import MAX_SEED, LazyChoices, add_output_arguments, int_in
from sim.params.errors import ScenarioError
from sim.viz.serve import CULL_TIMEOUT, MAX_SESSIONS

ENV = "PEERSUPPORT_DASHBOARD"  # read by sim.viz.app


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``dashboard``."""
    p = sub.add_parser(
        "dashboard", help="serve the teaching dashboard in the browser (localhost)",
        description="Serve a live dashboard: the peer network, adherence, HbA1c and QoL, "
                    "two designs side by side on the same patients. Open the printed "
                    "address in a browser; Ctrl+C stops it.")
    p.add_argument("scenario", type=Path, nargs="?", default=None,
                   help="scenario YAML file (default: a built-in IM peer group example; "
                        "lessons are in scenarios/classroom/)")
    p.add_argument("--port", type=int, default=8765,
                   help="port to serve on (default 8765; 0 picks a free one)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: this computer only). 0.0.0.0 "
                        "lets anyone who can reach this computer open the page, with no "
                        "password: use it only on a classroom network you trust, never on "
                        "a public one, and stop the server after class")
    p.add_argument("--max-sessions", type=int, default=MAX_SESSIONS,
                   help=f"most pages (browser tabs) served at once (default {MAX_SESSIONS}); "
                        "a closed tab frees its place after a few minutes")
    p.add_argument("--compare", choices=LazyChoices("sim.viz.arms", "COMPARISONS"), default=None,
                   metavar="CONTRAST", help="what differs between arm A and arm B: "
                   "%(choices)s (default: the lesson's contrast, else kickoff)")
    p.add_argument("--seed", type=int_in(0, MAX_SEED), default=None,
                   help="seed to open with (default: run.seed)")
    p.add_argument("--patients", type=int, default=None,
                   help="patients per arm to open with (default: the scenario's size, or "
                        "300 when it has more than 1,000)")
    p.add_argument("--set", dest="overrides", action="append", default=[],
                   metavar="KEY.PATH=VALUE", help="override a parameter (repeatable)")
    p.add_argument("--fetch-assets", action="store_true",
                   help="first install the page's JavaScript and CSS from the npm registry "
                        "(with npm) for use without internet, then serve")
    add_output_arguments(p, json_output=False)
    p.set_defaults(func=cmd_dashboard)


def check_port(host: str, port: int) -> int:
    """Bind ``host:port`` once, as the server will; returns the port (a free one for 0).

    Raises:
        ScenarioError: one line naming the option at fault: a host that does not resolve
            or is not an address of this computer, a port out of range or in use.
    """
    if not 0 <= port <= 65535:
        raise ScenarioError(f"--port must be between 0 and 65535, got {port}")
    shown = host if len(host) <= 60 else host[:60] + "..."
    use = "use 127.0.0.1 (this computer only) or 0.0.0.0 (all its network addresses)"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except (OSError, UnicodeError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ScenarioError(f"--host {shown!r} is not a known host name or address "
                            f"({reason}); {use}") from None
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRNOTAVAIL:
                raise ScenarioError(f"--host {shown!r} is not an address of this computer "
                                    f"({exc.strerror}); {use}") from None
            raise ScenarioError(f"cannot serve on {shown}:{port} ({exc.strerror}); choose "
                                "another port with --port N, or --port 0 for a free one"
                                ) from None
        return int(s.getsockname()[1])


def page_settings(args: argparse.Namespace) -> str:
    """The page's settings as JSON (validated scenario included, so the server reads no file)."""
    from sim.params.scenario import load_scenario, parse_set

    scenario = None
    if args.scenario is not None:
        scenario = load_scenario(args.scenario, parse_set(args.overrides))
    elif args.overrides:
        from sim.viz.classroom import default_scenario

        scenario = default_scenario().with_overrides(parse_set(args.overrides))
    if args.patients is not None and not 2 <= args.patients <= 20_000:
        raise ScenarioError(f"--patients must be between 2 and 20000, got {args.patients}")
    if args.seed is not None and not 0 <= args.seed < 2**63:
        raise ScenarioError(f"--seed must be between 0 and 2^63-1, got {args.seed}")
    if not 1 <= args.max_sessions <= 1000:
        raise ScenarioError(f"--max-sessions must be between 1 and 1000, got {args.max_sessions}")
    return json.dumps({"scenario": scenario.model_dump(mode="json") if scenario else None,
                       "compare": args.compare, "seed": args.seed, "patients": args.patients})


def cmd_dashboard(args: argparse.Namespace) -> int:
    """Validate the scenario, then serve the page until interrupted."""
    settings = page_settings(args)
    port = check_port(args.host, args.port)
    os.environ[ENV] = settings
    os.environ["SOLARA_APP"] = "sim.viz.app"
    os.environ.setdefault("SOLARA_MODE", "production")
    os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "false")
    # a closed tab's session (two arms of patients) is freed after minutes, not Solara's 24 h
    os.environ.setdefault("SOLARA_KERNEL_CULL_TIMEOUT", CULL_TIMEOUT)
    os.environ["SERVER_NAME"], os.environ["SERVER_PORT"] = args.host, str(port)
    # The server reads (and writes) no file the user did not name. Solara's settings read a
    # ".env" file in the working directory at import time and keep an id in
    # ~/.solara/server_user_id.txt; its server starts an IPython shell, which makes a
    # profile (and history database) in ~/.ipython; matplotlib reads ~/.config/matplotlib
    # and caches fonts in ~/.cache/matplotlib. So import from an empty private directory,
    # which also holds IPython's and matplotlib's, and give Solara its id. The directory
    # is removed at exit, after IPython's own exit handler (atexit runs last-in, first-out
    # and IPython registers its handler when imported, below).
    private = tempfile.TemporaryDirectory(prefix="peersupport-dashboard-")
    atexit.register(private.cleanup)
    os.environ.setdefault("IPYTHONDIR", os.path.join(private.name, "ipython"))
    os.environ.setdefault("MPLCONFIGDIR", os.path.join(private.name, "matplotlib"))
    os.environ.setdefault("SOLARA_TELEMETRY_SERVER_USER_ID", "peersupport-dashboard")
    try:
        with contextlib.chdir(private.name):
            import solara.server.starlette  # noqa: F401
            import uvicorn
    except ImportError as exc:
        raise ScenarioError(f"the dashboard needs Solara ({exc.name} is missing): "
                            "pip install 'peersupport[dashboard]'") from None
    return _serve(args, port, uvicorn)


def _serve(args: argparse.Namespace, port: int, uvicorn: Any) -> int:
    from sim.viz import assets
    from sim.viz.serve import AssetNotice, SessionCap, notice_html

    if args.fetch_assets:
        try:
            fetched = assets.fetch_assets()
        except RuntimeError as exc:
            raise ScenarioError(f"could not fetch the page's assets: {exc}") from None
        done = "fetched: " + ", ".join(fetched) if fetched else "already installed"
        print(f"peersupport dashboard: page assets {done}")
    missing = assets.missing_packages()
    if missing:
        print("peersupport dashboard: the page's JavaScript is not installed yet "
              f"({', '.join(missing)}); the server fetches it from a CDN on first use. "
              "Offline? pip install 'peersupport[dashboard]' installs the files for the "
              "Solara version it pins; with another version run once with --fetch-assets "
              "(needs npm).", file=sys.stderr)
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "") else args.host
    url = f"http://{f'[{shown}]' if ':' in shown else shown}:{port}"
    print(f"peersupport dashboard: serving on {url}  (Ctrl+C stops it)", flush=True)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"peersupport dashboard: bound to {args.host}: anyone who can reach this "
              "computer can open the page (no password); use only on a trusted classroom "
              f"network (at most {args.max_sessions} pages at once)", file=sys.stderr)
    # Solara warns on every page load served to an address other than "localhost" that
    # it cannot set cross-site cookies over http; the page is not embedded, so it is moot.
    warnings.filterwarnings("ignore", message="Cookies with samesite=none", category=UserWarning)
    from solara.server import kernel_context, starlette

    notice = notice_html(missing, str(assets.default_cache_dir()))
    app = SessionCap(AssetNotice(starlette.app, notice), args.max_sessions,
                     kernel_context.contexts)
    config = uvicorn.Config(app, host=args.host, port=port,
                            log_level="warning", access_log=False, lifespan="on",
                            timeout_graceful_shutdown=2)
    uvicorn.Server(config).run()
    return 0
