#!/usr/bin/env python3
"""A hostile MCP server for tests: it speaks MCP over stdio (raw JSON-RPC lines, no SDK)
well enough to be connected to, and then misbehaves in the ways a broken or malicious
server can, so that the client's answers to each can be tested.

Each tool misbehaves in its own way when called (its arguments tune it):

  ok             answers normally: {"echo": <arguments>}
  oversize       answers with a text of `bytes` bytes (default 17 MiB) in one line
  oversize_late  the same, with the id at the end of the line (after the big result)
  deep           answers with a result nested `depth` levels deep (default 5000)
  bad_error      answers with an error whose code is not an integer
  not_json       answers with `{"jsonrpc":"2.0","id":<id>,"result":` cut short
  garbage        writes a line that is not JSON, then answers normally
  garbage_only   writes a line that is not JSON and never answers
  wrong_id       answers, but under an id that was never sent
  flood          sends `count` notifications (default 20000) before answering
  slow_drip      writes its answer one byte at a time, `delay` seconds apart
  silent         never answers

Options (argv):
  --deep-schema N      tools/list includes a tool whose inputSchema is nested N deep
  --oversize-list N    tools/list is answered with a line of N bytes
  --banner             writes a line that is not JSON on stdout before anything else
"""

import json
import sys
import time

OUT = sys.stdout.buffer

TOOLS = [
    "ok", "oversize", "oversize_late", "deep", "bad_error", "not_json", "garbage",
    "garbage_only", "wrong_id", "flood", "slow_drip", "silent",
]


def write(raw: bytes) -> None:
    OUT.write(raw)
    OUT.flush()


def send(msg: dict) -> None:
    write(json.dumps(msg, separators=(",", ":")).encode() + b"\n")


def nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def tool_list(args: list) -> list:
    tools = [
        {"name": name, "description": f"misbehaves: {name}",
         "inputSchema": {"type": "object", "additionalProperties": True}}
        for name in TOOLS
    ]
    return tools


def tool_list_line(msg_id, args: list) -> bytes:
    """The tools/list answer (written by hand: a deep schema is deeper than Python's
    json module goes)."""
    tools = json.dumps(tool_list(args), separators=(",", ":"))
    if "--deep-schema" in args:
        depth = int(args[args.index("--deep-schema") + 1])
        schema = '{"type":"object","properties":{"a":' * depth + '{"type":"object"}' + "}}" * depth
        tools = tools[:-1] + ',{"name":"deep_schema","inputSchema":' + schema + "}]"
    return (b'{"jsonrpc":"2.0","id":' + json.dumps(msg_id).encode()
            + b',"result":{"tools":' + tools.encode() + b"}}\n")


def call(msg_id, name: str, arguments: dict) -> None:
    def result_line(text: str) -> bytes:
        result = {"content": [{"type": "text", "text": text}], "isError": False}
        return json.dumps({"jsonrpc": "2.0", "id": msg_id, "result": result},
                          separators=(",", ":")).encode() + b"\n"

    if name == "ok":
        send({"jsonrpc": "2.0", "id": msg_id, "result": {
            "content": [{"type": "text", "text": json.dumps(arguments)}],
            "structuredContent": {"echo": arguments}, "isError": False}})
    elif name in ("oversize", "oversize_late"):
        size = int(arguments.get("bytes", 17 << 20))
        text = "x" * size
        if name == "oversize":
            write(result_line(text))
        else:
            result = json.dumps({"content": [{"type": "text", "text": text}]})
            write(b'{"jsonrpc":"2.0","result":' + result.encode()
                  + b',"id":' + json.dumps(msg_id).encode() + b"}\n")
    elif name == "deep":
        depth = int(arguments.get("depth", 5000))
        write(b'{"jsonrpc":"2.0","id":' + json.dumps(msg_id).encode()
              + b',"result":{"content":[],"structuredContent":' + nested(depth).encode()
              + b"}}\n")
    elif name == "bad_error":
        send({"jsonrpc": "2.0", "id": msg_id,
              "error": {"code": "notanint", "message": "the code is a string"}})
    elif name == "not_json":
        write(b'{"jsonrpc":"2.0","id":' + json.dumps(msg_id).encode() + b',"result":\n')
    elif name == "garbage":
        write(b"this is not JSON-RPC \x00\xff at all\n")
        call(msg_id, "ok", arguments)
    elif name == "garbage_only":
        write(b"]]] garbage instead of an answer [[[\n")
    elif name == "wrong_id":
        other = 987654321 if msg_id != 987654321 else 1
        send({"jsonrpc": "2.0", "id": other, "result": {"content": [], "isError": False}})
    elif name == "flood":
        for i in range(int(arguments.get("count", 20000))):
            send({"jsonrpc": "2.0", "method": "notifications/message",
                  "params": {"level": "info", "data": f"flood {i}"}})
        call(msg_id, "ok", arguments)
    elif name == "slow_drip":
        delay = float(arguments.get("delay", 0.01))
        for b in result_line("dripped"):
            write(bytes([b]))
            time.sleep(delay)
    elif name == "silent":
        pass
    else:
        send({"jsonrpc": "2.0", "id": msg_id,
              "error": {"code": -32602, "message": f"Unknown tool: {name}"}})


def main() -> None:
    args = sys.argv[1:]
    if "--banner" in args:
        write(b"hostile MCP server starting (this line is not JSON-RPC)\n")
    for line in sys.stdin.buffer:
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if not isinstance(msg, dict) or "method" not in msg:
            continue
        method, msg_id = msg["method"], msg.get("id")
        if msg_id is None:
            continue  # notifications (initialized, cancelled) need no answer
        if method == "initialize":
            version = msg.get("params", {}).get("protocolVersion", "2025-06-18")
            send({"jsonrpc": "2.0", "id": msg_id, "result": {
                "protocolVersion": version, "capabilities": {"tools": {}},
                "serverInfo": {"name": "hostile", "version": "1.0.0"}}})
        elif method == "tools/list":
            if "--oversize-list" in args:
                size = int(args[args.index("--oversize-list") + 1])
                padding = "x" * size
                send({"jsonrpc": "2.0", "id": msg_id,
                      "result": {"tools": [], "_meta": {"padding": padding}}})
            else:
                write(tool_list_line(msg_id, args))
        elif method == "tools/call":
            params = msg.get("params", {})
            call(msg_id, params.get("name", ""), params.get("arguments") or {})
        elif method == "ping":
            send({"jsonrpc": "2.0", "id": msg_id, "result": {}})
        else:
            send({"jsonrpc": "2.0", "id": msg_id,
                  "error": {"code": -32601, "message": f"Method not found: {method}"}})


if __name__ == "__main__":
    main()
