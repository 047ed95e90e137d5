#!/usr/bin/env python3
"""Runs an MCP server over stdio (the command after the arguments) and dies mid-apply.

Relays every line between the client and the server. When the client sends the
`DIE_AFTER`-th `tools/call` (counting from 1; unset or 0: never), the call is passed on,
the server is given a moment to carry it out, and then the server and this process are
killed without relaying its answer: the call happened, the client never hears of it.

With `DIE_WHEN=answered` the moment is exact instead of half a second: the server and
this process are killed when the server's answer to that call arrives (for a tool that
takes longer than the moment, such as starting a container).
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time


def main() -> None:
    die_after = int(os.environ.get("DIE_AFTER") or "0")
    on_answer = os.environ.get("DIE_WHEN") == "answered"
    child = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    dying = threading.Event()
    dying_id: list[object] = []

    def die() -> None:
        child.send_signal(signal.SIGKILL)
        os._exit(1)

    def relay_answers() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            if dying.is_set():
                if not on_answer:
                    return
                try:
                    answered = json.loads(line).get("id")
                except (ValueError, AttributeError):
                    answered = None
                if dying_id and answered == dying_id[0]:
                    die()
                continue
            sys.stdout.buffer.write(line)
            sys.stdout.buffer.flush()

    threading.Thread(target=relay_answers, daemon=True).start()
    calls = 0
    assert child.stdin is not None
    for line in sys.stdin.buffer:
        try:
            message = json.loads(line)
            method = message.get("method")
        except (ValueError, AttributeError):
            message, method = {}, None
        if method == "tools/call":
            calls += 1
            if calls == die_after:
                dying_id.append(message.get("id"))
                dying.set()
        child.stdin.write(line)
        child.stdin.flush()
        if dying.is_set() and not on_answer:
            time.sleep(0.5)
            die()
    child.stdin.close()
    child.wait()


if __name__ == "__main__":
    main()
