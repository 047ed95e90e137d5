"""Pulls tool schemas from MCP servers into `.mcpo/schemas/<server>.json` files (format 1,
the same layout `mcpoc schema pull` writes), for test fixtures.

Usage:
  python3 pull-fixture-schemas.py OUT_DIR NAME -- COMMAND [ARGS...]

Needs: pip install "mcp==2.3.0". The pull time is fixed so that re-pulling an unchanged
server produces the same file.
"""

import asyncio
import json
import os
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def g(obj, *names):
    """The first attribute that exists: mcp 2.x names them in snake_case, 1.x in camelCase."""
    for n in names:
        if hasattr(obj, n):
            return getattr(obj, n)
    return None


async def pull(name, command, args):
    params = StdioServerParameters(command=command, args=args, env=dict(os.environ))
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            tools = []
            cursor = None
            while True:
                page = await session.list_tools(cursor=cursor) if cursor else await session.list_tools()
                tools.extend(page.tools)
                cursor = g(page, "next_cursor", "nextCursor")
                if not cursor:
                    break
    out_tools = []
    for t in tools:
        d = {"name": t.name, "inputSchema": g(t, "input_schema", "inputSchema")}
        if t.title:
            d["title"] = t.title
        if t.description:
            d["description"] = t.description
        output = g(t, "output_schema", "outputSchema")
        if output:
            d["outputSchema"] = output
        if t.annotations:
            d["annotations"] = t.annotations.model_dump(exclude_none=True, by_alias=True)
        out_tools.append(d)
    out_tools.sort(key=lambda t: t["name"])
    info = g(init, "server_info", "serverInfo")
    return {
        "format": 1,
        "server": name,
        "identity": {
            "transport": "stdio",
            "command": command,
            "args": args,
            "client_capabilities": ["elicitation"],
        },
        "protocolVersion": g(init, "protocol_version", "protocolVersion"),
        "serverInfo": {"name": info.name, "version": info.version},
        "pulledAt": "2026-11-24T00:00:00Z",
        "tools": out_tools,
        "resourceTemplates": [],
    }


def main():
    out_dir, name = sys.argv[1], sys.argv[2]
    rest = sys.argv[sys.argv.index("--") + 1 :]
    schema = asyncio.run(pull(name, rest[0], rest[1:]))
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, f"{name}.json"), "w") as f:
        json.dump(schema, f, indent=2, sort_keys=True)
        f.write("\n")
    print(f"{name}: {len(schema['tools'])} tools")


if __name__ == "__main__":
    main()
