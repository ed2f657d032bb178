"""The command line: `tag`, `job` and `hotels`, their options, and exit codes.

Exit codes: 0 done (or a job left running with --no-wait), 1 the API refused the request or the
job failed, 2 usage (bad arguments, a missing file), 3 no answer from the API, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from app.client import render
from app.client.api import Api, ClientError, JobFailed

DEFAULT_API = "http://127.0.0.1:8000"
POLL_S = 2.0  # each long poll returns at once when the job ends; this is how often progress refreshes
EXIT_OK, EXIT_API, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
#: What `tag --features` may ask for, in the API's order (brigade.features.FEATURES: the client
#: imports no server code, tests/test_cli.py keeps the two equal).
FEATURES = ("labels", "people", "faces", "text")


def build_parser() -> argparse.ArgumentParser:
    # The global options are accepted before or after the command (`brigade --api U tag v.mp4` and
    # `brigade tag v.mp4 --api U`): both parsers know them, and neither sets a default, so the one
    # given wins; defaults are filled in by main().
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--api", default=argparse.SUPPRESS, metavar="URL",
                        help=f"API base URL (default: $BRIGADE_API or {DEFAULT_API})")
    common.add_argument("--api-key", default=argparse.SUPPRESS, metavar="KEY",
                        help="API key, sent as X-API-Key (default: $BRIGADE_API_KEY; none: anonymous)")
    common.add_argument("--timeout", type=_seconds, default=argparse.SUPPRESS, metavar="S",
                        help="seconds to wait for the API to answer a request (default: 30; long polls add their wait)")

    parser = argparse.ArgumentParser(prog="brigade", parents=[common],
                                     description="Command-line client of the Brigade API: tag videos, show jobs, price hotels.",
                                     epilog="exit codes: 0 ok, 1 API error or failed job, 2 usage, 3 API unreachable")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    tag = commands.add_parser("tag", parents=[common], help="upload a video and print its tags",
                              description="Upload VIDEO (POST /v1/videos), follow its job and print its tags and timeline.")
    tag.add_argument("video", type=Path, metavar="VIDEO")
    tag.add_argument("--mode", choices=("auto", "single", "sharded"), default="auto",
                     help="single: one replica; sharded: segments in parallel; auto: by length and size (default)")
    tag.add_argument("--fast", action="store_true", help="keyframe-only sampling")
    tag.add_argument("--features", type=_features, default=(), metavar="LIST",
                     help=f"what to find, comma-separated: {','.join(FEATURES)} (default: labels; shots always)")
    tag.add_argument("--wait", action=argparse.BooleanOptionalAction, default=True,
                     help="follow the job until it ends (default), or print it as queued and exit")
    tag.add_argument("--json", action="store_true", help="print the job body as JSON")

    job = commands.add_parser("job", parents=[common], help="show a job", description="Show a job (GET /v1/jobs/ID).")
    job.add_argument("job_id", metavar="ID")
    job.add_argument("--wait", action=argparse.BooleanOptionalAction, default=False, help="follow the job until it ends")
    job.add_argument("--json", action="store_true", help="print the job body as JSON")

    hotels = commands.add_parser("hotels", parents=[common], help="price the hotels of a destination",
                                 description="Predicted prices of a stay (POST /v1/hotel-prices), following the job "
                                             "when the API answers 202.")
    hotels.add_argument("destination", metavar="DESTINATION")
    hotels.add_argument("--check-in", required=True, metavar="DATE", help="YYYY-MM-DD")
    hotels.add_argument("--check-out", required=True, metavar="DATE", help="YYYY-MM-DD")
    hotels.add_argument("--guests", required=True, type=int, metavar="N")
    hotels.add_argument("--budget", type=float, metavar="USD", help="for the whole stay")
    hotels.add_argument("--json", action="store_true", help="print the job body as JSON")
    return parser


def _seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def _features(text: str) -> tuple[str, ...]:
    """`people,Labels,people` -> ("labels", "people"), as the API reads it; an unknown name is a
    usage error here rather than a 400 after the upload."""
    wanted = {item.strip().lower() for item in text.split(",")} - {""}
    unknown = sorted(wanted - set(FEATURES))
    if unknown or not wanted:
        raise argparse.ArgumentTypeError(f"{text!r}: use any of {', '.join(FEATURES)}, comma-separated")
    return tuple(f for f in FEATURES if f in wanted)


def parse_args(argv: list[str] | None, environ: dict | None = None) -> argparse.Namespace:
    environ = os.environ if environ is None else environ
    args = build_parser().parse_args(argv)
    args.api = getattr(args, "api", None) or environ.get("BRIGADE_API") or DEFAULT_API
    args.api_key = getattr(args, "api_key", None) or environ.get("BRIGADE_API_KEY") or None
    args.timeout = getattr(args, "timeout", None) or 30.0
    return args


class Session:
    """One command's API, its output streams, and the job it follows (named if interrupted)."""

    def __init__(self, api: Api, out=None, err=None):
        self.api, self.out, self.err = api, out or sys.stdout, err or sys.stderr
        self.job_id: str | None = None

    def print(self, text: str) -> None:
        print(text, file=self.out)

    def note(self, text: str) -> None:
        print(text, file=self.err)

    def follow(self, job_id: str) -> dict:
        """Wait for the job, with its progress on stderr; the terminal body (JobFailed if it failed)."""
        self.job_id = job_id
        progress = render.Progress(self.err, f"job {job_id[:8]}")

        def _update(body):
            progress.update(*render.job_progress(body))

        try:
            body = self.api.wait_job(job_id, _update, POLL_S)
        finally:
            progress.close()
        if body.get("status") == "failed":
            raise JobFailed(body)
        return body

    def show(self, body: dict, as_json: bool, report) -> None:
        self.print(json.dumps(body, indent=2) if as_json else report(body))


def cmd_tag(s: Session, args) -> int:
    path: Path = args.video
    if not path.is_file():
        s.note(f"brigade: no such file: {path}")
        return EXIT_USAGE
    progress = render.Progress(s.err, f"upload {path.name}")
    started = time.monotonic()

    def _sent(done: int, total: int) -> None:
        rate = done / max(time.monotonic() - started, 1e-6)
        progress.update(done / total if total else 1.0,
                        f"{render.human_bytes(done)}/{render.human_bytes(total)}  {render.human_bytes(rate)}/s", "upload")

    try:
        accepted = s.api.submit_video(path, mode=args.mode, fast=args.fast, features=args.features, on_read=_sent)
    finally:
        progress.close()
    s.job_id = accepted["job_id"]
    s.note(f"job {accepted['job_id']} {accepted.get('status', 'queued')} ({accepted.get('mode')})")
    if not args.wait:
        body = s.api.job(accepted["job_id"])
        s.show(body, args.json, render.job_report)
        if not args.json:
            s.note(f"follow it with: brigade job {accepted['job_id']} --wait")
        return EXIT_OK
    s.show(s.follow(accepted["job_id"]), args.json, render.tags_report)
    return EXIT_OK


def cmd_job(s: Session, args) -> int:
    body = s.follow(args.job_id) if args.wait else s.api.job(args.job_id)
    if body.get("status") == "failed":
        raise JobFailed(body)
    s.show(body, args.json, render.job_report)
    return EXIT_OK


def cmd_hotels(s: Session, args) -> int:
    query = {"destination": args.destination, "check_in": args.check_in, "check_out": args.check_out, "guests": args.guests}
    if args.budget is not None:
        query["budget"] = args.budget
    status, body = s.api.hotel_prices(query)
    if status == 202:
        s.note(f"job {body['job_id']} {body.get('status')}: following it")
        body = s.follow(body["job_id"])
    elif args.json:  # the same shape either way: the job body
        body = s.api.job(body["job_id"])
    s.show(body, args.json, render.hotels_report)
    return EXIT_OK


COMMANDS = {"tag": cmd_tag, "job": cmd_job, "hotels": cmd_hotels}


def main(argv: list[str] | None = None, *, api: Api | None = None, out=None, err=None) -> int:
    args = parse_args(argv)
    session = Session(api or Api(args.api, args.api_key, args.timeout), out, err)
    try:
        return COMMANDS[args.command](session, args)
    except ClientError as exc:
        if isinstance(exc, JobFailed) and args.json:  # a script still gets the body, error included
            session.print(json.dumps(exc.body, indent=2))
        session.note(f"brigade: {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        follow = f"; the job goes on: brigade job {session.job_id} --wait" if session.job_id else ""
        session.note(f"\nbrigade: interrupted{follow}")
        return EXIT_INTERRUPTED
