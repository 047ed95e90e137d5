#!/usr/bin/env python3
"""An HTTPS proxy that stands in for AWS's service-reference index, for tests only.

`awslabs-aws-api-mcp-server` refuses to start unless it can download AWS's
service-reference index (`https://servicereference.us-east-1.amazonaws.com/`, a JSON list
of `{service, url}`) with `requests`. No machine that runs mcpo's tests reaches AWS, so
this proxy answers for that one host: the server is started with
`HTTPS_PROXY=http://127.0.0.1:<port>` and `REQUESTS_CA_BUNDLE=<dir>/ca.pem`, the proxy
accepts the `CONNECT` to that host, ends TLS itself with a certificate for the host
signed by a certificate authority made here (with `openssl`), and answers the index with
an empty list. With no service listed, the server classifies operations as read-only or
not from the metadata its package ships, and never asks for a service's own document.
Any other host is refused (403), so nothing else is ever answered in AWS's name.

Usage: service_reference_proxy.py DIR. Writes DIR/ca.pem (and the keys), listens on a
free port of 127.0.0.1, prints `PORT <n>` on one line, and serves until its standard
input closes or it is killed.
"""

import os
import socket
import ssl
import subprocess
import sys
import threading

HOST = "servicereference.us-east-1.amazonaws.com"
INDEX = b"[]"


def make_certificates(d: str) -> None:
    """A certificate authority and a certificate for HOST signed by it, in `d`."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    ca_key, ca, key, csr, cert = (
        os.path.join(d, n) for n in ("ca.key", "ca.pem", "host.key", "host.csr", "host.pem")
    )
    ext = os.path.join(d, "host.ext")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca,
            "-days", "2", "-subj", "/CN=mcpo test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
            "-subj", f"/CN={HOST}")
    with open(ext, "w") as f:
        f.write(f"subjectAltName=DNS:{HOST}\nbasicConstraints=CA:FALSE\n"
                "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
            "-out", cert, "-days", "2", "-extfile", ext)


def read_head(conn) -> bytes:
    """The request line and headers, up to the blank line."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
        if len(data) > 65536:
            break
    return data


def serve(conn: socket.socket, tls: ssl.SSLContext) -> None:
    with conn:
        head = read_head(conn)
        first = head.split(b"\r\n", 1)[0].decode("latin-1").split()
        if len(first) < 2 or first[0] != "CONNECT" or first[1] != f"{HOST}:443":
            conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        with tls.wrap_socket(conn, server_side=True) as inner:
            request = read_head(inner).split(b"\r\n", 1)[0].decode("latin-1").split()
            if len(request) >= 2 and request[0] == "GET" and request[1] == "/":
                inner.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                              b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
                              % (len(INDEX), INDEX))
            else:
                inner.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
                              b"Connection: close\r\n\r\n")


def main() -> None:
    d = sys.argv[1]
    os.makedirs(d, exist_ok=True)
    if not os.path.exists(os.path.join(d, "host.pem")):
        make_certificates(d)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(os.path.join(d, "host.pem"), os.path.join(d, "host.key"))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    print(f"PORT {listener.getsockname()[1]}", flush=True)

    def accept() -> None:
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=guarded, args=(conn, tls), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    sys.stdin.read()


def guarded(conn: socket.socket, tls: ssl.SSLContext) -> None:
    try:
        serve(conn, tls)
    except (OSError, ssl.SSLError) as e:
        print(f"proxy: {e}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
