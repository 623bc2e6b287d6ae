"""nginx in front of a server stack as one process tree: ``python -m compare.proxy ... -- ARGV``.

ServerProcess starts this like any server. It writes nginx's configuration, then replaces
itself (same pid) with a small bash supervisor whose children are the stack (ARGV, listening
on 127.0.0.1:UPSTREAM_PORT) and nginx (master and worker), all in the caller's process group:
one root pid covers both, so the sampler measures nginx with the stack. bash, not Python, stays
resident because it costs well under 1 MB of PSS where an idle interpreter costs about 8 MB,
which would otherwise be charged to nginx in every memory comparison.

When either child exits, the other is stopped and the supervisor exits non-zero (within
POLL_S seconds); SIGTERM, SIGINT or SIGHUP stops both and it exits 0. Everything goes to
stdout and stderr (the log).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from compare.nginx import CONF_NAME, nginx_argv, render_local

# $1 and $2: the two ends of a pipe nobody writes to, so that "read -t" sleeps without a child
# process ("wait -n" would be simpler, but misses a child that exits before it is called, as
# nginx does at once on a bad config). $3: how many of the following arguments are nginx's
# command line; the rest are the server's.
SUPERVISOR = r"""
tick=$1 hold=$2 n=$3; shift 3
front_argv=("${@:1:$n}"); shift "$n"
say() { echo "compare.proxy: $*" >&2; }
stop=0
trap 'stop=1' TERM INT HUP
"$@" </dev/null {tick}<&- {hold}>&- & server=$!
"${front_argv[@]}" </dev/null {tick}<&- {hold}>&- & front=$!
done=
while ((!stop)); do
    kill -0 "$server" 2>/dev/null || { done=$server; break; }
    kill -0 "$front" 2>/dev/null || { done=$front; break; }
    read -r -t "$POLL" -u "$tick" _ || :
done
trap '' TERM INT HUP
code=0
if [[ -n $done ]]; then
    wait "$done"
    code=$?
    name=nginx; [[ $done == "$server" ]] && name="the server"
    say "$name (pid $done) exited with code $code; stopping the rest"
    ((code)) || code=1
fi
kill -TERM "$server" "$front" 2>/dev/null
wait
exit "$code"
"""
POLL_S = 0.2


def supervisor_argv(
    bash: str, tick: tuple[int, int], front: Sequence[str], server: Sequence[str]
) -> list[str]:
    """The bash command line that runs ``front`` (nginx) and ``server`` side by side.

    ``tick`` is a pipe (read end, write end) the supervisor must inherit; see SUPERVISOR.
    """
    script = SUPERVISOR.replace('"$POLL"', str(POLL_S))
    fds = [str(fd) for fd in tick]
    return [bash, "-c", script, "compare.proxy", *fds, str(len(front)), *front, *server]


def tick_pipe() -> tuple[int, int]:
    """A pipe whose ends survive exec: the supervisor's clock."""
    read_end, write_end = os.pipe()
    os.set_inheritable(read_end, True)
    os.set_inheritable(write_end, True)
    return read_end, write_end


def build_parser() -> argparse.ArgumentParser:
    """The command line StackSpec.argv builds for a fronted stack."""
    parser = argparse.ArgumentParser(prog="python -m compare.proxy", description=__doc__)
    parser.add_argument("--host", required=True, help="address nginx listens on")
    parser.add_argument("--port", type=int, required=True, help="port nginx listens on")
    parser.add_argument("--upstream-port", type=int, required=True, help="the server's port")
    parser.add_argument("--buffering", choices=("on", "off"), required=True)
    parser.add_argument("--prefix", type=Path, required=True, help="nginx's own directory")
    parser.add_argument("--nginx", default="nginx", help="the nginx binary")
    parser.add_argument("argv", nargs="+", help="the server's command line, after --")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Write the configuration and become the supervisor; return only on failure."""
    args = build_parser().parse_args(argv)
    bash = shutil.which("bash")
    if bash is None:
        print("compare.proxy: bash is not installed", file=sys.stderr)
        return 1
    prefix: Path = args.prefix.resolve()
    prefix.mkdir(parents=True, exist_ok=True)
    conf = prefix / CONF_NAME
    conf.write_text(render_local(args.host, args.port, args.upstream_port, args.buffering == "on"))
    sys.stdout.flush()
    sys.stderr.flush()
    front = nginx_argv(args.nginx, prefix, conf)
    os.execv(bash, supervisor_argv(bash, tick_pipe(), front, args.argv))


if __name__ == "__main__":
    sys.exit(main())
