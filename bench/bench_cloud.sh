#!/usr/bin/env bash
# bench_cloud: the local cloud's own speed, through kilnd's socket (no kiln in between):
#   launch  -> healthy   a new group of 1: group-create until its instance runs and
#                        passes the health check                         (target <= 1.5 s)
#   kill    -> healthy   SIGKILL of that instance until its replacement is healthy
#                                                                        (target <= 1.5 s)
#   switch               group-enable of the new group until a request through nginx
#                        is answered by it                               (target <= 200 ms)
#   old group out        then group-disable of the old group until 10 requests in a row
#                        are answered by the new group only
# Medians (and min, max) of N rounds (default 20). Prints figures, asserts nothing.
#
# Usage: bench/bench_cloud.sh [N]   (from the build tree, or with KILN_BUILDDIR set)
set -u
rounds=${1:-20}
KILN_SRCDIR=${KILN_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
KILN_BUILDDIR=${KILN_BUILDDIR:-$PWD}
KILN_TESTLIB=${KILN_TESTLIB:-$KILN_SRCDIR/tests/lib}
export KILN_SRCDIR KILN_BUILDDIR KILN_TESTLIB
[ -x "$KILN_BUILDDIR/kiln" ] || { echo "bench_cloud: no kiln in $KILN_BUILDDIR (run it from the build tree)"; exit 1; }
. "$KILN_TESTLIB/harness.sh"
command -v rpmbuild >/dev/null || { echo "bench_cloud: rpmbuild is not installed"; exit 0; }

cloud_up
rpm=$(build_rpm 1) || { echo "bench_cloud: rpmbuild failed"; exit 1; }
api package-add "{\"path\":\"$rpm\"}"
[ "$RC" -eq 0 ] || { echo "bench_cloud: package-add failed: $OUT"; exit 1; }
nvr=$(echo "$OUT" | json "d['result']['nvr']")
api bake "{\"package\":\"$nvr\",\"app\":\"hello-world\"}"
[ "$RC" -eq 0 ] || { echo "bench_cloud: bake failed: $OUT"; exit 1; }
image=$(echo "$OUT" | json "d['result']['image']")
api create-app '{"app":"hello-world","env":"test","port":8080,"start":["/usr/bin/hello-world"],"health":{"path":"/health_check"}}'
[ "$RC" -eq 0 ] || { echo "bench_cloud: create-app failed: $OUT"; exit 1; }

# The timing loop in one Python process: a request to kilnd costs well under a
# millisecond there, so polling every 5 ms measures the cloud and not the poller.
python3 - "$KILN_HOME/kilnd.sock" "$image" "$KILN_LB_PORT" "$rounds" <<'PY'
import http.client, json, os, signal, socket, statistics, sys, time

sock, image, lb_port, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
POLL = 0.005

def call(op, args=None):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock)
    s.sendall((json.dumps({"v": 1, "id": 1, "op": op, "args": args or {}}) + "\n").encode())
    buf = b""
    while b"\n" not in buf:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        buf += chunk
    s.close()
    reply = json.loads(buf.split(b"\n", 1)[0])
    if not reply.get("ok"):
        raise SystemExit("bench_cloud: %s failed: %s" % (op, reply))
    return reply.get("result")

def instances(group):
    return [i for i in call("state")["instances"] if i["group"] == group]

def healthy(group, exclude=()):
    for i in instances(group):
        if i["state"] == "running" and i["health"] == "healthy" and i["id"] not in exclude:
            return i
    return None

def wait(pred, secs=30):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        r = pred()
        if r:
            return r
        time.sleep(POLL)
    raise SystemExit("bench_cloud: timed out after %d s" % secs)

def served_by():
    c = http.client.HTTPConnection("127.0.0.1", lb_port, timeout=5)
    try:
        c.request("GET", "/", headers={"Host": "hello-world.test.localhost", "Connection": "close"})
        r = c.getresponse()
        r.read()
        return r.status, r.getheader("X-Instance-Id")
    except OSError:
        return None, None
    finally:
        c.close()

launch, recover, switch, enable_call, drain = [], [], [], [], []
old = None
for n in range(rounds):
    group = "hello-world-test-v%03d" % n
    t0 = time.monotonic()
    call("group-create", {"name": group, "image": image, "min": 1, "max": 1, "desired": 1})
    first = wait(lambda: healthy(group))
    launch.append(time.monotonic() - t0)

    t0 = time.monotonic()
    os.kill(first["pid"], signal.SIGKILL)
    wait(lambda: healthy(group, exclude=(first["id"],)))
    recover.append(time.monotonic() - t0)
    ids = {i["id"] for i in instances(group)}

    t0 = time.monotonic()
    call("group-enable", {"name": group})
    enable_call.append(time.monotonic() - t0)
    wait(lambda: served_by()[1] in ids)
    switch.append(time.monotonic() - t0)
    if old:
        t0 = time.monotonic()
        call("group-disable", {"name": old})
        wait(lambda: all(served_by()[1] in ids for _ in range(10)))
        drain.append(time.monotonic() - t0)
        call("group-destroy", {"name": old})
    old = group

def line(what, xs, target):
    ms = sorted(x * 1000 for x in xs)
    print("bench_cloud: %-22s median %7.1f ms  min %7.1f  max %7.1f  (%d rounds; target %s)"
          % (what, statistics.median(ms), ms[0], ms[-1], len(ms), target))

line("launch -> healthy", launch, "<= 1500 ms")
line("kill -> healthy again", recover, "<= 1500 ms")
line("switch, confirmed live", switch, "<= 200 ms")
line("(group-enable's reply)", enable_call, "-")
if drain:
    line("old group out", drain, "-")
PY
