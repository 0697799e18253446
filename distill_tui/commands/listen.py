"""`distill-tui listen`: play (and optionally save) sounds that a remote distill-tui sends through `ssh -R`."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

from ..errors import BadInputError
from ..playback import DEFAULT_PORT

HOW_TO = f"""how to hear a remote Distill on your own speakers:
  1. here, on your own machine:   distill-tui listen
     (it prints a token and the ssh line to use)
  2. connect to the remote box:   ssh -R {DEFAULT_PORT}:127.0.0.1:{DEFAULT_PORT} you@gpu-box
  3. there, before distill-tui:   export DISTILL_LISTEN=127.0.0.1:{DEFAULT_PORT} DISTILL_LISTEN_TOKEN=<the token>
  Every sound the remote editor or `distill-tui play` plays then comes out here."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "listen",
        help="play audio sent by a remote distill-tui (run this on your own machine)",
        description=__doc__,
        epilog=HOW_TO,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port to listen on (default {DEFAULT_PORT}; 0 = any free port)",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1; anything else is reachable from other machines)",
    )
    parser.add_argument(
        "--token", help="shared secret (default: $DISTILL_LISTEN_TOKEN, else a new random one, printed)"
    )
    parser.add_argument(
        "--save-to", type=Path, metavar="DIR", help="also save every received clip as a WAV in DIR"
    )
    parser.add_argument(
        "--no-play", action="store_true", help="do not open the audio device (headless; use with --save-to)"
    )
    parser.add_argument(
        "--max-mb", type=float, default=64.0, help="refuse clips larger than this many MiB (default 64)"
    )
    parser.set_defaults(func=run)


def _check(args: argparse.Namespace) -> None:
    """Refuse settings that cannot work, before listening; make the save folder now, so that a folder that cannot
    be made is said at once, not at the first clip."""
    if not 0 <= args.port <= 65535:
        raise BadInputError(f"--port {args.port} is outside 0..65535")
    if not 0 < args.max_mb <= 4096:  # nan and inf were Python's ValueError / OverflowError, exit 1
        raise BadInputError(f"--max-mb {args.max_mb:g} must be more than 0 and at most 4096")
    if args.no_play and args.save_to is None:  # it listened and dropped every clip without a word (a bench's sink)
        _warn("warning: --no-play without --save-to DIR: clips are received and dropped, neither played nor saved")
    if args.save_to is not None:
        if Path(args.save_to).exists() and not Path(args.save_to).is_dir():  # said "(File exists)"
            raise BadInputError("is a file, not a folder: --save-to needs a folder for the clips", args.save_to)
        try:
            Path(args.save_to).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BadInputError(f"cannot save clips there ({exc.strerror or exc})", args.save_to) from exc


def run(args: argparse.Namespace) -> int:
    from ..playback.protocol import Clip  # noqa: PLC0415 - keep CLI start-up light
    from ..playback.remote import Listener, is_loopback, ssh_command

    _check(args)
    token = args.token or os.environ.get("DISTILL_LISTEN_TOKEN")
    generated = not token
    token = token or secrets.token_urlsafe(24)
    if len(token.encode("utf-8")) > 255:
        raise BadInputError("--token is longer than 255 bytes")
    if not is_loopback(args.host):
        _warn(
            f"WARNING: binding {args.host}, not 127.0.0.1: machines that can reach this address can connect, "
            "and the token and audio travel unencrypted. Use the ssh -R tunnel instead unless you mean this."
        )
    if len(token) < 16:
        _warn("warning: the token is short; anyone on this machine who guesses it can play sound through it")

    player = None
    on_clip = on_stop = None
    if not args.no_play:
        from ..playback.local import PlaybackUnavailable, Player, import_sounddevice, output_device

        try:
            output_device(import_sounddevice())
        except PlaybackUnavailable as exc:
            if args.save_to is None:
                raise PlaybackUnavailable(
                    f"{exc.reason}; use --no-play --save-to DIR to only save what is sent"
                ) from exc
            _warn(f"warning: {exc.reason}; clips will only be saved to {args.save_to}")
        else:
            player = Player()

            def on_clip(clip: Clip) -> None:
                region = (0.0, clip.seconds) if clip.loop else None
                player.play(clip.samples, clip.sample_rate, region)

            on_stop = player.stop

    listener = Listener(
        token,
        host=args.host,
        port=args.port,
        on_clip=on_clip,
        on_stop=on_stop,
        save_to=args.save_to,
        max_payload=int(args.max_mb * 1024 * 1024),
        log=_say,
    )
    host, port = listener.bind()
    _say(f"listening on {host}:{port}")  # the first line: scripts and tests read the port from it
    if generated:
        _say(f"token: {token}")
    _say("on this machine, connect to the remote box with:")
    _say(f"  {ssh_command(port)}")
    _say("and there, before starting distill-tui:")
    _say(
        f"  export DISTILL_LISTEN=127.0.0.1:{port} DISTILL_LISTEN_TOKEN={token if generated else '<your token>'}"
    )
    if args.save_to is not None:
        _say(f"saving clips to {args.save_to}")
    if args.no_play:
        _say("not playing (--no-play)")
    try:
        listener.serve_forever()
    except KeyboardInterrupt:
        _say("stopped")
    finally:
        listener.close()
        if player is not None:
            player.close()
    return 0


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _warn(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
