"""Checks the twins with a client nobody on this project wrote: the official Python `mcp`
package. For each twin over stdio, once with the initialize handshake and once with the 2026-07-28
server/discover lifecycle: tools/list, every tool has an inputSchema and
an outputSchema whose properties are all described, one create whose structuredContent the
client validates against the outputSchema, and one validation error.

Usage: python3 check_tools.py PATH/TO/mcpoc
Needs: pip install "mcp==2.3.0"
"""

import asyncio
import sys
import tempfile

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

# One create per twin that must succeed, and one that must fail validation.
CASES = {
    "opnsense": (
        ("network_vlan.create", {"interface": "igb1", "tag": 10, "description": "servers"}),
        ("network_vlan.create", {"interface": "igb1", "tag": 5000}),
    ),
    "aws": (
        ("vpc.create", {"cidr_block": "10.0.0.0/16", "name": "main"}),
        ("vpc.create", {"cidr_block": "10.0.0.0/33"}),
    ),
    "docker": (
        ("volume.create", {"name": "data"}),
        ("volume.create", {"name": "-bad"}),
    ),
    "kubernetes": (
        ("namespace.create", {"name": "shop"}),
        ("namespace.create", {"name": "Shop"}),
    ),
}


def undescribed(schema, path="$"):
    """Paths of object properties without a description (following $defs references)."""
    missing = []
    defs = schema.get("$defs", {})

    def walk(node, where, seen):
        if not isinstance(node, dict):
            return
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref.split("/")[-1]
            if name not in seen:
                walk(defs.get(name, {}), f"{where}<{name}>", seen | {name})
        for key, prop in node.get("properties", {}).items():
            if isinstance(prop, dict) and "description" not in prop and "$ref" not in prop:
                missing.append(f"{where}.{key}")
            walk(prop, f"{where}.{key}", seen)
        for key in ("items", "additionalProperties"):
            walk(node.get(key), f"{where}[]", seen)
        for key in ("anyOf", "oneOf", "allOf"):
            for sub in node.get(key, []) or []:
                walk(sub, where, seen)

    walk(schema, path, frozenset())
    return missing


async def check(binary, twin, state_dir, lifecycle):
    params = StdioServerParameters(
        command=binary,
        args=["twin", twin, "--state-dir", state_dir, "--seed", "1", "--ready-delay-ms", "100"],
    )
    problems = []
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            if lifecycle == "discover":
                # The 2026-07-28 revision: no handshake, self-contained requests.
                await session.discover()
            else:
                await session.initialize()
            tools = (await session.list_tools()).tools
            if not tools:
                problems.append(f"{twin}: tools/list is empty")
            for tool in tools:
                if not tool.input_schema or tool.input_schema.get("type") != "object":
                    problems.append(f"{twin}: {tool.name} has no object inputSchema")
                if not tool.output_schema:
                    problems.append(f"{twin}: {tool.name} has no outputSchema")
                    continue
                for where, schema in (("input", tool.input_schema), ("output", tool.output_schema)):
                    for path in undescribed(schema):
                        problems.append(f"{twin}: {tool.name} {where} property {path} has no description")
            (good_tool, good_args), (bad_tool, bad_args) = CASES[twin]
            # The client validates structuredContent against the outputSchema itself.
            good = await session.call_tool(good_tool, good_args)
            if good.is_error or not isinstance(good.structured_content, dict) or "id" not in good.structured_content:
                problems.append(f"{twin}: {good_tool} did not return a state with an id: {good}")
            bad = await session.call_tool(bad_tool, bad_args)
            if not bad.is_error:
                problems.append(f"{twin}: {bad_tool}({bad_args}) should have failed validation")
            print(
                f"{twin} ({lifecycle}): protocol {session.protocol_version}, {len(tools)} tools, "
                f"{good_tool} -> {good.structured_content.get('id') if good.structured_content else None}, "
                f"{bad_tool} rejected: {bad.content[0].text if bad.content else '?'}"
            )
    return problems


async def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    problems = []
    for twin in CASES:
        for lifecycle in ("initialize", "discover"):
            with tempfile.TemporaryDirectory() as state_dir:
                problems += await check(sys.argv[1], twin, state_dir, lifecycle)
    for p in problems:
        print("PROBLEM:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
