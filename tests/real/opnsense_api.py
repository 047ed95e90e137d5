#!/usr/bin/env python3
"""A stand-in for the OPNsense REST API, for tests of `mcp-opnsense` (PyPI) only.

No OPNsense appliance runs where mcpo is tested, so this serves the endpoints
`mcp-opnsense` 0.1.1 calls for VLANs, firewall aliases, filter rules and applying
changes, with OPNsense's own shapes:

- `addItem`/`addRule` answer `{"result": "saved", "uuid": ...}`, or, when the model
  rejects a field, HTTP 200 with `{"result": "failed", "validations": {"rule.interface":
  "..."}}`: OPNsense reports a rejected item in the body, not in the status;
- `getItem`/`getRule` answer `{"<item>": {...}}` with option fields as OPNsense renders
  them (every choice, the chosen one with `"selected": 1`), and `[]` for an unknown uuid;
- `searchItem`/`searchRule` answer `{"rows": [...], "rowCount", "total", "current"}`;
- `setItem`/`setRule` answer `{"result": "saved"}`, `delItem`/`delRule`
  `{"result": "deleted"}` (or `"not found"`);
- `firewall/filter/apply` answers `{"status": "OK\\n\\n"}`, `firewall/alias/reconfigure`
  and `interfaces/vlan/reconfigure` `{"status": "ok"}`. `firewall/nat/apply`, which
  `apply_changes` calls, is answered like the filter's.

Requests must carry the key and secret as HTTP basic auth (401 otherwise). Each change
marks its section pending until that section is applied; the whole configuration, with
what is pending, is written to the state file after every request that changes it, so a
test can see what the "appliance" holds.

Usage: opnsense_api.py STATE_FILE KEY SECRET. Listens on a free port of 127.0.0.1, prints
`PORT <n>` on one line, and serves until its standard input closes or it is killed.
"""

import base64
import ipaddress
import json
import os
import re
import sys
import threading
import uuid
from urllib.parse import unquote_plus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PARENTS = ["igb0", "igb1", "igb2", "igb3", "vtnet0", "vtnet1", "igc0", "igc1", "igc2", "igc3"]
INTERFACES = {"lan": "LAN", "wan": "WAN", "opt1": "OPT1"}
ACTIONS = {"pass": "Pass", "block": "Block", "reject": "Reject"}
DIRECTIONS = {"in": "In", "out": "Out"}
PROTOCOLS = ["any", "tcp", "udp", "tcp/udp", "icmp", "esp", "ah", "gre", "igmp", "pim",
             "ospf", "pfsync", "carp"]
ALIAS_TYPES = {"host": "Host(s)", "network": "Network(s)", "port": "Port(s)", "url": "URL (IPs)",
               "urltable": "URL Table (IPs)", "urltable_ports": "URL Table (Ports)",
               "geoip": "GeoIP", "asn": "BGP ASN"}
PCP = {str(i): f"Priority {i}" for i in range(8)}
NAME = re.compile(r"^[A-Za-z0-9_]{1,32}$")


class Config:
    """The appliance's configuration: items by section, and the sections not yet applied."""

    def __init__(self, path: str):
        self.path = path
        self.lock = threading.Lock()
        self.vlans: dict = {}
        self.aliases: dict = {}
        self.rules: dict = {}
        self.pending: set = set()
        self.applied = {"filter": 0, "nat": 0, "alias": 0, "vlan": 0}
        self.save()

    def save(self) -> None:
        with open(self.path + ".tmp", "w") as f:
            json.dump({"vlans": self.vlans, "aliases": self.aliases, "rules": self.rules,
                       "pending": sorted(self.pending), "applied": self.applied}, f, indent=1)
        os.replace(self.path + ".tmp", self.path)


def options(choices, chosen) -> dict:
    """An option field as OPNsense's getItem renders it."""
    if isinstance(choices, list):
        choices = {c: c for c in choices}
    return {k: {"value": v, "selected": 1 if k == chosen else 0} for k, v in choices.items()}


def validate_network(value: str, aliases: dict) -> bool:
    if value == "any" or any(a["name"] == value for a in aliases.values()):
        return True
    try:
        ipaddress.ip_network(value, strict=False)
        return True
    except ValueError:
        return False


def validate_port(value: str) -> bool:
    parts = value.split(":")
    try:
        return len(parts) in (1, 2) and all(1 <= int(p) <= 65535 for p in parts)
    except ValueError:
        return False


def vlan_errors(cfg: Config, v: dict, own: str | None) -> dict:
    errors = {}
    if v.get("if") not in PARENTS:
        errors["vlan.if"] = "Option not in list."
    try:
        tag = int(v.get("tag", ""))
        if not 1 <= tag <= 4094:
            raise ValueError
    except ValueError:
        errors["vlan.tag"] = "Value should be between 1 and 4094."
    else:
        for k, other in cfg.vlans.items():
            if k != own and other["if"] == v.get("if") and other["tag"] == str(tag):
                errors["vlan.tag"] = "Tag already in use on this interface."
    if v.get("pcp", "") not in ("", *PCP):
        errors["vlan.pcp"] = "Option not in list."
    return errors


def alias_errors(cfg: Config, a: dict, own: str | None) -> dict:
    errors = {}
    if not NAME.match(a.get("name", "")):
        errors["alias.name"] = ("The name must be less than 32 characters long and may only "
                                "consist of the following characters: a-z, A-Z, 0-9, _")
    elif any(k != own and o["name"] == a["name"] for k, o in cfg.aliases.items()):
        errors["alias.name"] = "An alias with this name already exists."
    if a.get("type") not in ALIAS_TYPES:
        errors["alias.type"] = "Option not in list."
    entries = [e for e in a.get("content", "").split("\n") if e]
    if a.get("type") == "network":
        for e in entries:
            if not validate_network(e, {}):
                errors["alias.content"] = f"Entry \"{e}\" is not a valid network."
    if a.get("type") == "host":
        for e in entries:
            try:
                ipaddress.ip_address(e)
            except ValueError:
                if not re.match(r"^[A-Za-z0-9.-]+$", e):
                    errors["alias.content"] = f"Entry \"{e}\" is not a valid hostname or IP address."
    if a.get("type") == "port":
        for e in entries:
            if not validate_port(e):
                errors["alias.content"] = f"Entry \"{e}\" is not a valid port number."
    return errors


def rule_errors(cfg: Config, r: dict) -> dict:
    errors = {}
    if r.get("action") not in ACTIONS:
        errors["rule.action"] = "Option not in list."
    if r.get("interface") not in INTERFACES:
        errors["rule.interface"] = "Option not in list."
    if r.get("direction", "in") not in DIRECTIONS:
        errors["rule.direction"] = "Option not in list."
    if r.get("protocol", "any") not in PROTOCOLS:
        errors["rule.protocol"] = "Option not in list."
    for field in ("source_net", "destination_net"):
        if not validate_network(r.get(field, "any"), cfg.aliases):
            errors[f"rule.{field}"] = "Please specify a valid network or alias."
    for field in ("source_port", "destination_port"):
        value = r.get(field, "")
        if value:
            if r.get("protocol") not in ("tcp", "udp", "tcp/udp"):
                errors[f"rule.{field}"] = "Ports are only valid for tcp and udp."
            elif not validate_port(value):
                errors[f"rule.{field}"] = "Please specify a valid port or range."
    return errors


def render_vlan(v: dict) -> dict:
    return {"enabled": v.get("enabled", "1"), "if": options(PARENTS, v["if"]), "tag": v["tag"],
            "pcp": options(PCP, v.get("pcp") or "0"), "descr": v.get("descr", ""),
            "vlanif": v["vlanif"]}


def render_alias(a: dict) -> dict:
    entries = [e for e in a["content"].split("\n") if e]
    return {"enabled": a.get("enabled", "1"), "name": a["name"],
            "type": options(ALIAS_TYPES, a["type"]),
            "content": {e: {"value": e, "selected": 1} for e in entries},
            "description": a.get("description", "")}


def render_rule(r: dict) -> dict:
    return {"enabled": r.get("enabled", "1"), "sequence": r["sequence"],
            "action": options(ACTIONS, r["action"]),
            "quick": r.get("quick", "1"),
            "interface": options(INTERFACES, r["interface"]),
            "direction": options(DIRECTIONS, r.get("direction", "in")),
            "ipprotocol": options({"inet": "IPv4", "inet6": "IPv6"}, "inet"),
            "protocol": options(PROTOCOLS, r.get("protocol", "any")),
            "source_net": r.get("source_net", "any"), "source_port": r.get("source_port", ""),
            "destination_net": r.get("destination_net", "any"),
            "destination_port": r.get("destination_port", ""),
            "log": r.get("log", "0"), "description": r.get("description", "")}


class Handler(BaseHTTPRequestHandler):
    cfg: Config
    auth: str

    def log_message(self, fmt, *args) -> None:
        print("opnsense-api: " + fmt % args, file=sys.stderr, flush=True)

    def answer(self, code: int, body) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self) -> dict:
        n = int(self.headers.get("Content-Length") or 0)
        if not n:
            return {}
        try:
            value = json.loads(self.rfile.read(n))
            return value if isinstance(value, dict) else {}
        except ValueError:
            return {}

    def authorised(self) -> bool:
        if self.headers.get("Authorization") == self.auth:
            return True
        self.answer(401, {"status": 401, "message": "Authentication Failed"})
        return False

    def do_GET(self) -> None:
        if not self.authorised():
            return
        path = self.path.split("?", 1)[0]
        query = self.path.split("?", 1)[1] if "?" in self.path else ""
        phrase = ""
        for kv in query.split("&"):
            if kv.startswith("searchPhrase="):
                phrase = unquote_plus(kv.split("=", 1)[1])
        cfg = self.cfg
        with cfg.lock:
            if path == "/api/interfaces/vlan/searchItem":
                rows = [{"uuid": k, "if": v["if"], "tag": v["tag"], "pcp": v.get("pcp", ""),
                         "descr": v.get("descr", ""), "vlanif": v["vlanif"]}
                        for k, v in cfg.vlans.items()]
                return self.answer(200, search(rows, phrase))
            if path == "/api/firewall/alias/searchItem":
                rows = [{"uuid": k, "enabled": a.get("enabled", "1"), "name": a["name"],
                         "type": ALIAS_TYPES[a["type"]], "description": a.get("description", ""),
                         "content": ",".join(e for e in a["content"].split("\n") if e)}
                        for k, a in cfg.aliases.items()]
                return self.answer(200, search(rows, phrase))
            if path == "/api/firewall/filter/searchRule":
                rows = [{"uuid": k, "enabled": r.get("enabled", "1"), "sequence": r["sequence"],
                         "action": r["action"], "interface": r["interface"],
                         "direction": r.get("direction", "in"), "protocol": r.get("protocol", "any"),
                         "source_net": r.get("source_net", "any"),
                         "destination_net": r.get("destination_net", "any"),
                         "destination_port": r.get("destination_port", ""),
                         "description": r.get("description", "")}
                        for k, r in cfg.rules.items()]
                return self.answer(200, search(rows, phrase))
            for prefix, items, render, key in (
                ("/api/interfaces/vlan/getItem/", cfg.vlans, render_vlan, "vlan"),
                ("/api/firewall/alias/getItem/", cfg.aliases, render_alias, "alias"),
                ("/api/firewall/filter/getRule/", cfg.rules, render_rule, "rule"),
            ):
                if path.startswith(prefix):
                    item = items.get(path[len(prefix):])
                    return self.answer(200, {key: render(item)} if item else [])
        self.answer(404, {"errorMessage": "Endpoint not found", "errorTitle": "Error"})

    def do_POST(self) -> None:
        if not self.authorised():
            return
        path = self.path.split("?", 1)[0]
        body = self.body()
        cfg = self.cfg
        with cfg.lock:
            answer = self.change(path, body)
            if answer is None:
                return self.answer(404, {"errorMessage": "Endpoint not found", "errorTitle": "Error"})
            cfg.save()
            self.answer(200, answer)

    def change(self, path: str, body: dict):
        cfg = self.cfg
        if path == "/api/interfaces/vlan/addItem":
            v = dict(body.get("vlan") or {})
            errors = vlan_errors(cfg, v, None)
            if errors:
                return {"result": "failed", "validations": errors}
            v["tag"] = str(int(v["tag"]))
            v.setdefault("vlanif", f"vlan0.{v['tag']}")
            key = str(uuid.uuid4())
            cfg.vlans[key] = v
            cfg.pending.add("vlan")
            return {"result": "saved", "uuid": key}
        if path.startswith("/api/interfaces/vlan/setItem/"):
            key = path.rsplit("/", 1)[1]
            if key not in cfg.vlans:
                return {"result": "failed"}
            v = {**cfg.vlans[key], **flatten(body.get("vlan") or {})}
            errors = vlan_errors(cfg, v, key)
            if errors:
                return {"result": "failed", "validations": errors}
            cfg.vlans[key] = v
            cfg.pending.add("vlan")
            return {"result": "saved"}
        if path.startswith("/api/interfaces/vlan/delItem/"):
            return delete(cfg, cfg.vlans, path, "vlan")
        if path == "/api/interfaces/vlan/reconfigure":
            return reconfigure(cfg, "vlan", {"status": "ok"})
        if path == "/api/firewall/alias/addItem":
            a = dict(body.get("alias") or {})
            errors = alias_errors(cfg, a, None)
            if errors:
                return {"result": "failed", "validations": errors}
            key = str(uuid.uuid4())
            cfg.aliases[key] = a
            cfg.pending.add("alias")
            return {"result": "saved", "uuid": key}
        if path.startswith("/api/firewall/alias/setItem/"):
            key = path.rsplit("/", 1)[1]
            if key not in cfg.aliases:
                return {"result": "failed"}
            a = {**cfg.aliases[key], **flatten(body.get("alias") or {})}
            errors = alias_errors(cfg, a, key)
            if errors:
                return {"result": "failed", "validations": errors}
            cfg.aliases[key] = a
            cfg.pending.add("alias")
            return {"result": "saved"}
        if path.startswith("/api/firewall/alias/delItem/"):
            key = path.rsplit("/", 1)[1]
            name = cfg.aliases.get(key, {}).get("name")
            if name and any(name in (r.get("source_net"), r.get("destination_net"))
                            for r in cfg.rules.values()):
                return {"status": "failed", "message": f"Alias {name} is in use"}
            return delete(cfg, cfg.aliases, path, "alias")
        if path == "/api/firewall/alias/reconfigure":
            return reconfigure(cfg, "alias", {"status": "ok"})
        if path == "/api/firewall/filter/addRule":
            r = dict(body.get("rule") or {})
            errors = rule_errors(cfg, r)
            if errors:
                return {"result": "failed", "validations": errors}
            r["sequence"] = str(max([int(x["sequence"]) for x in cfg.rules.values()] + [0]) + 1)
            key = str(uuid.uuid4())
            cfg.rules[key] = r
            cfg.pending.add("filter")
            return {"result": "saved", "uuid": key}
        if path.startswith("/api/firewall/filter/setRule/"):
            key = path.rsplit("/", 1)[1]
            if key not in cfg.rules:
                return {"result": "failed"}
            r = {**cfg.rules[key], **flatten(body.get("rule") or {})}
            errors = rule_errors(cfg, r)
            if errors:
                return {"result": "failed", "validations": errors}
            cfg.rules[key] = r
            cfg.pending.add("filter")
            return {"result": "saved"}
        if path.startswith("/api/firewall/filter/delRule/"):
            return delete(cfg, cfg.rules, path, "filter")
        if path == "/api/firewall/filter/apply":
            return reconfigure(cfg, "filter", {"status": "OK\n\n"})
        if path == "/api/firewall/nat/apply":
            return reconfigure(cfg, "nat", {"status": "OK\n\n"})
        return None


def flatten(item: dict) -> dict:
    """A getItem rendering sent back by setItem, as stored values (the selected option)."""
    out = {}
    for k, v in item.items():
        if isinstance(v, dict):
            chosen = [o for o, d in v.items() if isinstance(d, dict) and d.get("selected")]
            out[k] = "\n".join(chosen) if k == "content" else (chosen[0] if chosen else "")
        else:
            out[k] = v
    return out


def delete(cfg: Config, items: dict, path: str, section: str) -> dict:
    key = path.rsplit("/", 1)[1]
    if items.pop(key, None) is None:
        return {"result": "not found"}
    cfg.pending.add(section)
    return {"result": "deleted"}


def reconfigure(cfg: Config, section: str, answer: dict) -> dict:
    cfg.pending.discard(section)
    cfg.applied[section] += 1
    return answer


def search(rows: list, phrase: str) -> dict:
    if phrase:
        rows = [r for r in rows if any(phrase.lower() in str(v).lower() for v in r.values())]
    return {"rows": rows, "rowCount": len(rows), "total": len(rows), "current": 1}


def main() -> None:
    state, key, secret = sys.argv[1:4]
    Handler.cfg = Config(state)
    Handler.auth = "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()


if __name__ == "__main__":
    main()
