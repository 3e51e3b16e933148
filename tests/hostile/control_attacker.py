"""A hostile local user on the control socket: run as `nobody` by test_control_fuzz.py.

Standard library only (it runs under the system python as uid 65534, which cannot import the
test tree). It is started with the daemon's run dir as its working directory and connects to
`./control.sock`, so no parent directory has to be searchable by nobody.

`python3 control_attacker.py SEED SECONDS` then, for SECONDS, from one seeded generator:
- fuzzers, all the time: random bytes, deep nesting, huge lines, invalid UTF-8, odd numbers,
  half-closed connections, and well-formed `standby`/`takeover` requests (which nobody may
  not send);
- hogs, from 40% of the time on (before that the fuzzers have the user's connections to
  themselves): more idle connections than a non-root user may hold, each a slowloris that
  sends a byte of a request now and then and never finishes it; cut ones reconnect.
It prints one JSON object counting what came back ("ok", "busy", "denied", "bad", "closed", ...).
"""

import json
import random
import socket
import sys
import threading
import time

SOCK = "control.sock"
HOGS = 40
FUZZERS = 4


class Counts:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: dict[str, int] = {}

    def add(self, kind: str) -> None:
        with self.lock:
            self.seen[kind] = self.seen.get(kind, 0) + 1


def connect() -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(SOCK)
    return sock


def kind_of(data: bytes) -> str:
    if not data:
        return "closed"
    try:
        reply = json.loads(data)
    except ValueError:
        return "garbled-reply"
    if reply.get("ok") is True:
        return "ok"
    error = str(reply.get("error", ""))
    for word, kind in (("busy", "busy"), ("permission denied", "denied"),
                       ("internal error", "internal")):
        if word in error:
            return kind
    return "bad"


def exchange(data: bytes, *, half_close: bool = False) -> str:
    """Send `data` on a fresh connection and classify the reply."""
    try:
        sock = connect()
    except OSError:
        return "connect-failed"
    with sock:
        try:
            sock.sendall(data)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                reply += chunk
        except OSError:
            return "reset"  # the server stopped reading a line that was too long: fine
    return kind_of(reply)


def nested(rng: random.Random) -> bytes:
    depth = rng.choice([5, 50, 999, 2000, 5000])
    opener = rng.choice([b"[", b'{"":', b'{"cmd": "status", "x": ['])
    return opener * depth


def hostile_line(rng: random.Random) -> tuple[bytes, bool]:
    """One request line an attacker might send, and whether to half-close after it."""
    handoff = rng.choice([b"standby", b"takeover"])
    which = rng.choice([b'"all"', b'"local"', b'"foreign"', b'["all"]', b'{"a": 1}', b"null"])
    timeout = rng.choice([b"1", b"0.001", b"1e308", b"-1", b"NaN", b"Infinity", b"9" * 5000,
                          b"true", b'"60"'])
    choices = [
        rng.randbytes(rng.randrange(1, 5000)),
        nested(rng),
        b"x" * rng.choice([5000, 1 << 20]),
        b'{"cmd": "\xff\xfe\xc0"}',
        b'{"cmd": "\\ud800"}',
        b'{"cmd": ' + b"9" * 5000 + b"}",
        b'{"cmd": "' + handoff + b'", "which": ' + which + b', "timeout": ' + timeout + b"}",
        b'{"cmd": "' + handoff + b'"}',
        b'{"cmd": ["standby"]}',
        b"",
        b'{"cmd": "status"}\n{"cmd": "standby"}',
    ]
    line = rng.choice(choices)
    half_close = rng.random() < 0.3
    return (line if half_close else line + b"\n"), half_close


def hog(seed: int, start: float, until: float, counts: Counts) -> None:
    """Hold a connection open, dribbling a request that never ends; reconnect when cut."""
    rng = random.Random(seed)
    time.sleep(max(0.0, start - time.monotonic()))
    while time.monotonic() < until:
        try:
            sock = connect()
        except OSError:
            counts.add("hog-connect-failed")
            time.sleep(0.05)
            continue
        with sock:
            sock.settimeout(0.2)
            try:
                while time.monotonic() < until:
                    sock.send(b" ")
                    try:
                        data = sock.recv(65536)
                    except TimeoutError:
                        continue
                    counts.add("hog-" + kind_of(data))
                    break  # refused (busy) or cut (timed out): connect again
            except OSError:
                counts.add("hog-reset")
        time.sleep(rng.uniform(0, 0.05))


def fuzz(seed: int, until: float, counts: Counts) -> None:
    rng = random.Random(seed)
    while time.monotonic() < until:
        line, half_close = hostile_line(rng)
        counts.add(exchange(line, half_close=half_close))


def main() -> None:
    seed, seconds = int(sys.argv[1]), float(sys.argv[2])
    now = time.monotonic()
    until, hogs_from = now + seconds, now + 0.4 * seconds
    counts = Counts()
    threads = [threading.Thread(target=hog, args=(seed * 1000 + n, hogs_from, until, counts))
               for n in range(HOGS)]
    threads += [threading.Thread(target=fuzz, args=(seed * 1000 + HOGS + n, until, counts))
                for n in range(FUZZERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps(counts.seen, sort_keys=True))


if __name__ == "__main__":
    main()
