#!/usr/bin/env python3
"""A raw client of kilnd's socket for tests (doc/kilnd-api.md).

    kilnd_api.py SOCKET OP [JSON-ARGS]    one request; prints the reply's JSON, exit 0 if ok
    kilnd_api.py SOCKET --raw BYTES-FILE  sends the file's bytes as they are; prints replies
    kilnd_api.py SOCKET --events N SECS   subscribes, prints up to N events or until SECS pass
"""
import json
import socket
import sys
import time


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def read_lines(s, timeout):
    s.settimeout(timeout)
    buf = b""
    while True:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            yield line.decode("utf-8", "replace")


def main():
    path = sys.argv[1]
    if sys.argv[2] == "--raw":
        data = open(sys.argv[3], "rb").read()
        s = connect(path)
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        for line in read_lines(s, 3):
            print(line)
        return 0
    if sys.argv[2] == "--events":
        want, secs = int(sys.argv[3]), float(sys.argv[4])
        s = connect(path)
        s.sendall(b'{"v":1,"id":1,"op":"subscribe","args":{"since":0}}\n')
        n = -1
        end = time.time() + secs
        buf = b""
        s.settimeout(0.2)
        while time.time() < end and n < want:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                n += 1
                if n > 0:
                    print(line.decode(), flush=True)
        return 0
    op = sys.argv[2]
    args = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    s = connect(path)
    s.sendall((json.dumps({"v": 1, "id": 1, "op": op, "args": args}) + "\n").encode())
    for line in read_lines(s, 120):
        print(line)
        return 0 if json.loads(line).get("ok") else 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
