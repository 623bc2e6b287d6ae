"""A bash supervisor for several children as one process tree (servers.proxy, servers.prefork).

The caller execs into it (same pid, same process group): its children are the commands it is
given, so one root pid covers them all and the sampler measures every one. bash, not Python,
stays resident because it costs well under 1 MB of PSS where an idle interpreter costs about
8 MB, which would otherwise be charged to the stack in every memory comparison.

When any child exits, the others are stopped and the supervisor exits non-zero (within POLL_S
seconds); SIGTERM, SIGINT or SIGHUP stops them all and it exits 0. Everything goes to stdout
and stderr (the log).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

# $0: the name it reports under. $1 and $2: the two ends of a pipe nobody writes to, so that
# "read -t" sleeps without a child process ("wait -n" would be simpler, but misses a child that
# exits before it is called, as nginx does at once on a bad config). $3: how many children; then
# for each: its label, how many arguments its command line has, and that command line.
SUPERVISOR = r"""
tick=$1 hold=$2 count=$3; shift 3
say() { echo "$0: $*" >&2; }
stop=0
trap 'stop=1' TERM INT HUP
pids=() labels=()
for ((i = 0; i < count; i++)); do
    labels+=("$1"); n=$2; shift 2
    "${@:1:n}" </dev/null {tick}<&- {hold}>&- & pids+=($!)
    shift "$n"
done
done=-1
while ((!stop)); do
    for i in "${!pids[@]}"; do
        kill -0 "${pids[i]}" 2>/dev/null || { done=$i; break 2; }
    done
    read -r -t "$POLL" -u "$tick" _ || :
done
trap '' TERM INT HUP
code=0
if ((done >= 0)); then
    wait "${pids[done]}"
    code=$?
    say "${labels[done]} (pid ${pids[done]}) exited with code $code; stopping the rest"
    ((code)) || code=1
fi
kill -TERM "${pids[@]}" 2>/dev/null
wait
exit "$code"
"""
POLL_S = 0.2

Child = tuple[str, Sequence[str]]  # a label for the log, and a command line


def supervisor_argv(
    bash: str, tick: tuple[int, int], children: Sequence[Child], name: str
) -> list[str]:
    """The bash command line that runs ``children`` side by side, reporting as ``name``.

    ``tick`` is a pipe (read end, write end) the supervisor must inherit; see SUPERVISOR.
    """
    script = SUPERVISOR.replace('"$POLL"', str(POLL_S))
    args = [bash, "-c", script, name, *(str(fd) for fd in tick), str(len(children))]
    for label, argv in children:
        args += [label, str(len(argv)), *argv]
    return args


def tick_pipe() -> tuple[int, int]:
    """A pipe whose ends survive exec: the supervisor's clock."""
    read_end, write_end = os.pipe()
    os.set_inheritable(read_end, True)
    os.set_inheritable(write_end, True)
    return read_end, write_end
