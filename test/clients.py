#!/usr/bin/env python3
"""Python clients for test/test_integration.c.

    python3 test/clients.py CHECK PORT

CHECK is one of: keepalive, http10, close, many. Each talks to a ducta
server on 127.0.0.1:PORT, prints what it saw, and exits 0 when every check
held, 1 otherwise (2 on bad usage). Standard library only.
"""
import asyncio
import http.client
import os
import socket
import sys
import time

HOST = "127.0.0.1"
PLAIN = b"Hello, World!"
JSON = b'{"message":"Hello, World!"}'

failures = []


def check(cond, what):
    """Record a failed check instead of stopping at the first one."""
    print(("ok    " if cond else "FAIL  ") + what)
    if not cond:
        failures.append(what)
    return cond


def watch(sock):
    """A second handle on the connection (a dup of its descriptor): it
    stays usable after http.client closes its own when a response says
    Connection: close, so we can see whether the server closed too."""
    return socket.socket(fileno=os.dup(sock.fileno()))


def server_closed(raw, timeout=3.0):
    """Does the peer close the watched connection (EOF) within timeout?"""
    try:
        raw.settimeout(timeout)
        try:
            data = raw.recv(1)
        except socket.timeout:
            print("      no EOF within %.1f s" % timeout)
            return False
        except ConnectionResetError:
            print("      connection reset instead of EOF")
            return False
        if data:
            print("      unexpected byte after the response: %r" % data)
            return False
        return True
    finally:
        raw.close()


def get(conn, path, headers=None):
    conn.request("GET", path, headers=headers or {})
    resp = conn.getresponse()
    body = resp.read()
    return resp, body


def check_keepalive(port):
    """Several requests on one HTTP/1.1 connection reuse one socket."""
    conn = http.client.HTTPConnection(HOST, port, timeout=5)
    conn.connect()
    first = conn.sock
    first_name = first.getsockname()
    plan = ["/plaintext", "/json", "/plaintext", "/nope", "/json",
            "/plaintext", "/json", "/plaintext"]
    for i, path in enumerate(plan):
        resp, body = get(conn, path)
        want_status = 404 if path == "/nope" else 200
        check(resp.status == want_status,
              "request %d %s: status %d (want %d)" %
              (i, path, resp.status, want_status))
        if path == "/plaintext":
            check(body == PLAIN, "request %d: body %r" % (i, body))
        elif path == "/json":
            check(body == JSON, "request %d: body %r" % (i, body))
        check(resp.getheader("Content-Length") == str(len(body)),
              "request %d: Content-Length %r matches %d body bytes" %
              (i, resp.getheader("Content-Length"), len(body)))
        check(resp.getheader("Connection") is None,
              "request %d: no Connection header on a 1.1 keep-alive "
              "response (got %r)" % (i, resp.getheader("Connection")))
        check(not resp.will_close, "request %d: response keeps the "
              "connection open" % i)
        check(conn.sock is first,
              "request %d: same socket object as the first request" % i)
        check(conn.sock is not None and
              conn.sock.getsockname() == first_name,
              "request %d: same local address %r" % (i, first_name))
    conn.close()


def check_http10(port):
    """HTTP/1.0: closes after the response unless keep-alive is asked."""
    # http.client speaks 1.1; these two attributes are how it is told not to
    conn = http.client.HTTPConnection(HOST, port, timeout=5)
    conn._http_vsn = 10
    conn._http_vsn_str = "HTTP/1.0"
    conn.connect()
    sock = watch(conn.sock)
    resp, body = get(conn, "/plaintext")
    check(resp.status == 200, "1.0 plain: status %d" % resp.status)
    check(body == PLAIN, "1.0 plain: body %r" % body)
    check((resp.getheader("Connection") or "").lower() == "close",
          "1.0 plain: Connection: close in the response (got %r)" %
          resp.getheader("Connection"))
    check(server_closed(sock), "1.0 plain: server closed the connection")
    conn.close()

    conn = http.client.HTTPConnection(HOST, port, timeout=5)
    conn._http_vsn = 10
    conn._http_vsn_str = "HTTP/1.0"
    conn.connect()
    first = conn.sock
    first_w = watch(first)
    for i, path in enumerate(["/json", "/plaintext", "/json"]):
        resp, body = get(conn, path, {"Connection": "keep-alive"})
        check(resp.status == 200, "1.0 keep-alive %d: status %d" %
              (i, resp.status))
        check(body == (JSON if path == "/json" else PLAIN),
              "1.0 keep-alive %d: body %r" % (i, body))
        check((resp.getheader("Connection") or "").lower() == "keep-alive",
              "1.0 keep-alive %d: Connection: keep-alive in the response "
              "(got %r)" % (i, resp.getheader("Connection")))
        check(conn.sock is first,
              "1.0 keep-alive %d: same socket as the first request" % i)
    # still open: a last request without keep-alive closes it
    resp, body = get(conn, "/plaintext")
    check(resp.status == 200 and body == PLAIN,
          "1.0 last request: %d %r" % (resp.status, body))
    check(server_closed(first_w),
          "1.0 last request (no keep-alive): server closed the connection")
    conn.close()


def check_close(port):
    """HTTP/1.1 Connection: close is honoured: response says so, then EOF."""
    conn = http.client.HTTPConnection(HOST, port, timeout=5)
    conn.connect()
    sock = conn.sock
    sock_w = watch(sock)
    resp, body = get(conn, "/json")
    check(resp.status == 200 and body == JSON,
          "keep-alive request first: %d %r" % (resp.status, body))
    check(conn.sock is sock, "still the same socket")
    resp, body = get(conn, "/plaintext", {"Connection": "close"})
    check(resp.status == 200, "close: status %d" % resp.status)
    check(body == PLAIN, "close: body %r" % body)
    check((resp.getheader("Connection") or "").lower() == "close",
          "close: Connection: close in the response (got %r)" %
          resp.getheader("Connection"))
    check(server_closed(sock_w), "close: server closed the connection")
    conn.close()
    # the server serves the next client normally
    conn = http.client.HTTPConnection(HOST, port, timeout=5)
    resp, body = get(conn, "/plaintext")
    check(resp.status == 200 and body == PLAIN,
          "a new connection afterwards: %d %r" % (resp.status, body))
    conn.close()


async def many_one(port, idx, nreq, all_open, opened, counts, errors):
    path = "/json" if idx % 2 else "/plaintext"
    want = JSON if idx % 2 else PLAIN
    req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path).encode()
    writer = None
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(HOST, port), 10)
        opened[0] += 1
        if opened[0] == len(counts):
            all_open.set()
        await asyncio.wait_for(all_open.wait(), 15)
        for i in range(nreq):
            writer.write(req)
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            lines = head.decode("latin-1").split("\r\n")
            status = lines[0].split(" ")
            fields = {}
            for line in lines[1:]:
                if line:
                    k, _, v = line.partition(":")
                    fields[k.strip().lower()] = v.strip()
            body = await asyncio.wait_for(
                reader.readexactly(int(fields["content-length"])), 10)
            if status[1] != "200" or body != want:
                raise ValueError("response %d: %r %r" % (i, lines[0], body))
            if "connection" in fields:
                raise ValueError("response %d: Connection: %s" %
                                 (i, fields["connection"]))
            counts[idx] += 1
    except Exception as e:  # noqa: BLE001 - report every kind of failure
        errors.append("conn %d after %d responses: %s: %s" %
                      (idx, counts[idx], type(e).__name__, e))
        all_open.set()  # do not leave the others waiting for this one
    finally:
        if writer is not None:
            writer.close()


async def many_main(port, nconn, nreq):
    all_open = asyncio.Event()
    opened = [0]
    counts = [0] * nconn
    errors = []
    t0 = time.monotonic()
    await asyncio.gather(*(many_one(port, i, nreq, all_open, opened, counts,
                                    errors) for i in range(nconn)))
    dt = time.monotonic() - t0
    total = sum(counts)
    print("%d connections x %d requests: %d good responses in %.2f s" %
          (nconn, nreq, total, dt))
    for e in errors[:10]:
        print("      " + e)
    check(opened[0] == nconn, "%d of %d connections opened" %
          (opened[0], nconn))
    check(not errors, "%d connections failed" % len(errors))
    check(total == nconn * nreq, "%d responses, want %d" %
          (total, nconn * nreq))


def check_many(port):
    """1000 keep-alive connections open at once, 10 requests each."""
    asyncio.run(many_main(port, 1000, 10))


CHECKS = {
    "keepalive": check_keepalive,
    "http10": check_http10,
    "close": check_close,
    "many": check_many,
}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in CHECKS:
        print("usage: clients.py {%s} PORT" % "|".join(CHECKS),
              file=sys.stderr)
        return 2
    port = int(sys.argv[2])
    try:
        CHECKS[sys.argv[1]](port)
    except Exception as e:  # noqa: BLE001
        check(False, "%s: %s" % (type(e).__name__, e))
    print("%s: %s" % (sys.argv[1], "FAILED: %d checks" % len(failures)
                      if failures else "passed"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
