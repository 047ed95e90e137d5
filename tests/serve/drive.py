"""Drives `mcpoc serve` with the official Python MCP client, as an AI client would, against
the twins. Each scenario asserts what a person relies on: the model only proposes what
type-checks, and nothing runs without a person's approval of that exact plan.

Usage: python3 drive.py SCENARIO PATH/TO/mcpoc WORKSPACE
Scenarios: stdio, mrtr, terminal, seed, fault, http, config, runbook, runbook_mrtr
Needs: pip install "mcp==2.3.0". The workspace has its schemas pulled; `mcpoc` is on PATH
(the twins' `server` blocks start `mcpoc twin ...`).
"""

import asyncio
import json
import os
import pty
import re
import subprocess
import sys
from contextlib import asynccontextmanager

import mcp.types as types
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

TOOLS = {
    "list_patterns", "describe_pattern", "describe_type", "check", "plan", "apply",
    "destroy", "query", "modify", "troubleshoot", "list_runbooks", "run_runbook",
}

SECRET = "s3cret-pa55word"

DEV = """\
variable "token" {
  type      = string
  default   = "%s"
  sensitive = true
}

resource "docker.network" "web" {
  name   = "web"
  driver = "bridge"
}

resource "docker.container" "web" {
  name    = "web"
  image   = "nginx:1.27"
  network = docker.network.web.name
  env = {
    API_TOKEN = var.token
  }
}

output "web_id" {
  value = docker.container.web.id
}
""" % SECRET

# The same with a misspelt attribute and a resource type the server does not have.
BROKEN = DEV.replace('image   = "nginx:1.27"', 'imagee  = "nginx:1.27"').replace(
    'resource "docker.network" "web"', 'resource "docker.netwrok" "web"'
)


class Person:
    """Answers approval dialogs (elicitation) as told, and remembers what it was shown."""

    def __init__(self):
        self.answers = []
        self.shown = []

    async def __call__(self, context, params):
        self.shown.append(params.message)
        if not self.answers:
            return types.ElicitResult(action="cancel")
        yes = self.answers.pop(0)
        if yes:
            return types.ElicitResult(action="accept", content={"approve": True})
        return types.ElicitResult(action="decline")


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok:", what.split("\n")[0])


def sc(result):
    """The structuredContent of a result (every result must have one)."""
    if not isinstance(result.structured_content, dict):
        raise AssertionError(f"no structuredContent: {result}")
    return result.structured_content


def text_of(result):
    return "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")


def code_of(result):
    return sc(result).get("error", {}).get("code")


@asynccontextmanager
async def stdio_session(binary, ws, person=None, discover=False, extra=()):
    params = StdioServerParameters(command=binary, args=["serve", "--dir", ws, *extra], env={"PATH": os.environ["PATH"]})
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write, elicitation_callback=person) as session:
            if discover:
                await session.discover()
            else:
                await session.initialize()
            yield session


def cli(binary, ws, *args, stdin=None):
    return subprocess.run([binary, *args], cwd=ws, capture_output=True, text=True, input=stdin)


async def call(session, name, args=None):
    return await session.call_tool(name, args or {})


async def tools_and_schemas(session):
    tools = (await session.list_tools()).tools
    names = {t.name for t in tools}
    check(names == TOOLS, f"the twelve tools are listed: {sorted(names)}")
    for t in tools:
        check(t.input_schema.get("type") == "object" and t.output_schema, f"{t.name} has input and output schemas")


async def state_is_empty(session):
    q = sc(await call(session, "query"))
    return q["resources"] == []


async def scenario_stdio(binary, ws):
    person = Person()
    async with stdio_session(binary, ws, person) as s:
        await tools_and_schemas(s)
        pats = sc(await call(s, "list_patterns"))["patterns"]
        check({"dev_environment", "pci_shop"} <= {p["name"] for p in pats}, "list_patterns lists the workspace's patterns")
        pci = sc(await call(s, "describe_pattern", {"name": "pci_shop"}))
        check([p["name"] for p in pci["params"]] == ["name", "db_password", "min_instances"], "describe_pattern gives the params")
        check(re.search(r'pattern\s*=\s*"pci_shop"', pci["example"]), "describe_pattern gives an example use")
        unknown = await call(s, "describe_pattern", {"name": "pci_shp"})
        check(unknown.is_error and "pci_shop" in text_of(unknown), "an unknown pattern suggests the near one")
        ty = sc(await call(s, "describe_type", {"server": "docker", "type": "container"}))
        inputs = {a["name"]: a for a in ty["inputs"]}
        check(inputs["name"]["required"] and inputs["image"]["required"], "describe_type marks required inputs")
        check("always" in inputs["restart_policy"]["enum"], "describe_type gives enum values")
        check(any(o["name"] == "id" for o in ty["outputs"]), "describe_type gives the outputs")

        # The model proposes source that does not type-check: diagnostics, and nothing runs.
        bad = sc(await call(s, "check", {"source": BROKEN}))
        codes = {d["code"] for d in bad["diagnostics"]}
        check(not bad["ok"] and "E0102" in codes, f"check reports the unknown type with its code: {codes}")
        check(all(d["line"] >= 1 and d["message"] for d in bad["diagnostics"]), "diagnostics have lines and messages")
        planned_bad = await call(s, "plan", {"source": BROKEN})
        check(planned_bad.is_error and code_of(planned_bad) == "E0630", "a plan of source with errors is refused (E0630)")
        check(any(d["code"] == "E0102" for d in sc(planned_bad)["diagnostics"]), "the refusal carries the diagnostics")
        check(not os.path.exists(os.path.join(ws, "main.mcpo")), "nothing was written")
        good = sc(await call(s, "check", {"source": DEV}))
        check(good["ok"] and good["errors"] == 0, "the fixed source checks")

        plan = sc(await call(s, "plan", {"source": DEV}))
        pid = plan["plan_id"]
        check(plan["counts"] == {"create": 2} and plan["file"] == "main.mcpo", f"the plan creates two resources: {plan['counts']}")
        check(SECRET not in json.dumps(plan), "the plan never shows the sensitive value")

        # Declined: nothing changes.
        person.answers = [False]
        declined = await call(s, "apply", {"plan_id": pid})
        check(declined.is_error and code_of(declined) == "E0639", "a declined approval refuses the apply (E0639)")
        check(person.shown and pid in person.shown[-1] and "docker.container.web" in person.shown[-1], "the person was shown the plan")
        check(await state_is_empty(s) and not os.path.exists(os.path.join(ws, "main.mcpo")), "nothing changed")

        for bad_id in ("0123456789ab", "../../etc/passwd"):
            r = await call(s, "apply", {"plan_id": bad_id})
            check(r.is_error and code_of(r) == "E0638", f"an unknown plan id is refused (E0638): {bad_id}")

        # Accepted: the file is written, then exactly the plan runs.
        person.answers = [True]
        applied = sc(await call(s, "apply", {"plan_id": pid}))
        check(applied["outcome"] == "applied" and applied["approved_by"] == "elicitation", f"applied: {applied['headline']}")
        check(applied["done"] == {"create": 2}, "two resources created")
        with open(os.path.join(ws, "main.mcpo")) as f:
            check(f.read() == DEV, "the source was written into the workspace")
        again = sc(await call(s, "apply", {"plan_id": pid}))
        check(again["outcome"] == "already applied", "a second apply of the same plan does nothing")

        q = sc(await call(s, "query"))
        check({r["address"] for r in q["resources"]} == {"docker.network.web", "docker.container.web"}, "query lists what exists")
        check(q["outputs"]["web_id"].startswith("ctr-") or q["outputs"]["web_id"], "query gives the outputs")
        one = sc(await call(s, "query", {"address": "docker.container.web"}))["resources"][0]
        check(one["inputs"]["image"] == "nginx:1.27" and SECRET not in json.dumps(one), "query shows inputs, sensitive values redacted")
        missing = await call(s, "query", {"address": "docker.container.wbe"})
        check(missing.is_error and code_of(missing) == "E0635", "an address not in the state is E0635")
        cli_plan = cli(binary, ws, "plan", "--detailed-exitcode")
        check(cli_plan.returncode == 0, f"`mcpoc plan` afterwards shows no changes:\n{cli_plan.stdout}{cli_plan.stderr}")

        # Stale plans: made before another plan changed the workspace and the state.
        a = sc(await call(s, "plan", {"source": DEV.replace("nginx:1.27", "nginx:1.28")}))["plan_id"]
        b = sc(await call(s, "plan", {"source": DEV.replace("nginx:1.27", "nginx:1.29")}))["plan_id"]
        person.answers = [True]
        check(sc(await call(s, "apply", {"plan_id": b}))["outcome"] == "applied", "plan b applied")
        person.answers = [True]
        stale = await call(s, "apply", {"plan_id": a})
        check(stale.is_error and code_of(stale) in ("E0640", "E0631"), f"the stale plan a is refused: {code_of(stale)}")
        check(person.answers == [True], "the person was not even asked about the stale plan")

        # A person edits the workspace after the plan: refused too.
        c = sc(await call(s, "plan", {"source": DEV}))["plan_id"]
        with open(os.path.join(ws, "notes.mcpo"), "w") as f:
            f.write("# a note\n")
        moved = await call(s, "apply", {"plan_id": c})
        check(moved.is_error and code_of(moved) == "E0640", "a plan made before the workspace changed is refused (E0640)")
        os.remove(os.path.join(ws, "notes.mcpo"))

        # Destroy, approved.
        person.answers = [True]
        gone = sc(await call(s, "destroy"))
        check(gone["outcome"] == "applied" and gone["done"].get("delete") == 2, f"destroy deleted both: {gone['done']}")
        check(await state_is_empty(s), "the state is empty")
        prompts = {p.name for p in (await s.list_prompts()).prompts}
        check(prompts == {"deploy", "troubleshoot", "modify"}, "the three prompts are listed")
        deploy = await s.get_prompt("deploy", {"request": "a dev environment for our Node.js app"})
        check("check" in deploy.messages[0].content.text and "Node.js" in deploy.messages[0].content.text, "the deploy prompt guides the loop")
        uris = {str(r.uri) for r in (await s.list_resources()).resources}
        check({"mcpo://state", "mcpo://audit", "mcpo://schemas/docker", "mcpo://patterns/pci_shop"} <= uris, f"resources: {sorted(uris)}")
        audit = json.loads((await s.read_resource("mcpo://audit")).contents[0].text)
        outcomes = [e["outcome"] for e in audit]
        check("declined" in outcomes and "applied" in outcomes and "planned" in outcomes, "the audit journal records plans, refusals and applies")
        check(all(e["client"] for e in audit), "the journal names the client")
    state = cli(binary, ws, "state", "list")
    check(state.returncode == 0, "the CLI reads the same state")
    journal = cli(binary, ws, "state", "audit")
    check(journal.returncode == 0 and "declined" in journal.stdout and "(approved by elicitation)" in journal.stdout,
          f"`mcpoc state audit` shows the journal:\n{journal.stdout}")


async def scenario_mrtr(binary, ws):
    """The 2026-07-28 lifecycle: approval through an input_required result."""
    person = Person()
    async with stdio_session(binary, ws, person, discover=True) as s:
        await tools_and_schemas(s)
        pid = sc(await call(s, "plan", {"source": DEV}))["plan_id"]
        first = await s.call_tool("apply", {"plan_id": pid}, allow_input_required=True)
        check(isinstance(first, types.InputRequiredResult), f"apply asks for approval with input_required: {type(first).__name__}")
        (key, req), = first.input_requests.items()
        check(pid in req.params.message, "the question shows the plan")
        forged = await s.call_tool("apply", {"plan_id": pid}, input_responses={key: {"action": "accept", "content": {"approve": True}}},
                                   request_state="made-up", allow_input_required=True)
        check(isinstance(forged, types.InputRequiredResult), "an answer without the server's request state does not count")
        declined = await s.call_tool("apply", {"plan_id": pid}, input_responses={key: {"action": "decline"}},
                                     request_state=forged.request_state, allow_input_required=True)
        check(declined.is_error and code_of(declined) == "E0639", "declined through input_required (E0639)")
        check(await state_is_empty(s), "nothing changed")
        ask = await s.call_tool("apply", {"plan_id": pid}, allow_input_required=True)
        done = await s.call_tool("apply", {"plan_id": pid}, input_responses={key: {"action": "accept", "content": {"approve": True}}},
                                 request_state=ask.request_state, allow_input_required=True)
        check(not done.is_error and sc(done)["outcome"] == "applied", "accepted through input_required: applied")
        replay = await s.call_tool("apply", {"plan_id": pid}, input_responses={key: {"action": "accept", "content": {"approve": True}}},
                                   request_state=ask.request_state, allow_input_required=True)
        check(sc(replay)["outcome"] == "already applied", "a replayed answer runs nothing again")


def approve_in_terminal(binary, ws, plan_id, answer):
    """Runs `mcpoc approve PLAN_ID` on a pseudo-terminal and types `answer`."""
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(ws)
        os.execv(binary, [binary, "approve", plan_id])
    out = b""
    sent = False
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
        if not sent and b"Enter a value" in out:
            os.write(fd, answer.encode() + b"\n")
            sent = True
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")


async def scenario_terminal(binary, ws):
    """A client without elicitation: the person approves with `mcpoc approve` in a terminal."""
    async with stdio_session(binary, ws, None) as s:
        p1 = sc(await call(s, "plan", {"pattern": "dev_environment", "params": {"app_name": "shop"}}))
        check(p1["file"] == "dev_environment.mcpo" and p1["counts"] == {"create": 2}, "a pattern plan adds a use block")
        p2 = sc(await call(s, "plan", {"pattern": "dev_environment", "params": {"app_name": "blog"}, "name": "blog"}))
        refused = await call(s, "apply", {"plan_id": p1["plan_id"]})
        check(refused.is_error and code_of(refused) == "E0634", "without approval the apply is refused (E0634)")
        check(f"mcpoc approve {p1['plan_id']}" in text_of(refused), "the refusal says how a person approves")
        check(await state_is_empty(s), "nothing changed")
        listing = cli(binary, ws, "approve")
        check(p1["plan_id"] in listing.stdout and p2["plan_id"] in listing.stdout, "`mcpoc approve` lists the plans waiting")
        no_tty = cli(binary, ws, "approve", p1["plan_id"], stdin="yes\n")
        check(no_tty.returncode != 0 and "E0634" in no_tty.stderr, "`mcpoc approve` without a terminal approves nothing")
        code, out = approve_in_terminal(binary, ws, p2["plan_id"], "no")
        check(code != 0 and "E0639" in out, "answering no approves nothing")
        code, out = approve_in_terminal(binary, ws, p1["plan_id"], "yes")
        check(code == 0 and "docker.container" in out, f"`mcpoc approve` shows the plan and records the yes:\n{out}")
        other = await call(s, "apply", {"plan_id": p2["plan_id"]})
        check(other.is_error and code_of(other) == "E0634", "the approval is for that plan only")
        done = sc(await call(s, "apply", {"plan_id": p1["plan_id"]}))
        check(done["outcome"] == "applied" and done["approved_by"] == "terminal", "the approved plan runs")
        check(os.path.exists(os.path.join(ws, "dev_environment.mcpo")), "its use block was written")
        names = {r["address"] for r in sc(await call(s, "query"))["resources"]}
        check(names == {"module.dev_environment.docker.network.dev", "module.dev_environment.docker.container.app"}, f"the twins hold it: {names}")


async def scenario_seed(binary, ws):
    """The seed's requests, as a model would play them: pattern + params -> plan -> approve -> apply."""
    person = Person()
    async with stdio_session(binary, ws, person) as s:
        pats = {p["name"]: p for p in sc(await call(s, "list_patterns"))["patterns"]}
        # "Set up a dev environment for our Node.js app"
        dev = pats["dev_environment"]
        params = {p["name"]: "storefront" for p in dev["params"] if p["required"]}
        plan = sc(await call(s, "plan", {"pattern": "dev_environment", "params": params}))
        person.answers = [True]
        check(sc(await call(s, "apply", {"plan_id": plan["plan_id"]}))["outcome"] == "applied", "the dev environment is up")
        # "Deploy our e-commerce platform with PCI compliance"
        shop = {"name": "shop", "db_password": SECRET, "min_instances": 2}
        plan = sc(await call(s, "plan", {"pattern": "pci_shop", "params": shop, "name": "shop"}))
        check(plan["counts"] == {"create": 5}, f"the PCI shop plan: {plan['counts']}")
        check(SECRET not in json.dumps(plan), "the database password never shows in the plan")
        person.answers = [True]
        done = sc(await call(s, "apply", {"plan_id": plan["plan_id"]}))
        check(done["outcome"] == "applied", f"the PCI shop is up: {done['headline']}")
        asg = sc(await call(s, "query", {"address": "module.shop.aws.autoscaling_group.web"}))["resources"][0]
        check(asg["inputs"]["min_size"] == 2, "two web servers at least")
        # A modify of its min_instances.
        mod = sc(await call(s, "modify", {"use": "shop", "params": {"min_instances": 4}}))
        check(mod["file"] == "shop.mcpo" and sum(mod["counts"].values()) == 1, f"modify changes one resource: {mod['counts']}")
        check("min_size" in mod["text"], "the modify plan shows min_size changing")
        person.answers = [True]
        check(sc(await call(s, "apply", {"plan_id": mod["plan_id"]}))["outcome"] == "applied", "the modify is applied")
        asg = sc(await call(s, "query", {"address": "module.shop.aws.autoscaling_group.web"}))["resources"][0]
        check(asg["inputs"]["min_size"] == 4, "four web servers at least now")
        with open(os.path.join(ws, "shop.mcpo")) as f:
            check("min_instances = 4" in f.read(), "the use block on disk says 4")
        cli_plan = cli(binary, ws, "plan", "--detailed-exitcode")
        check(cli_plan.returncode == 0, f"`mcpoc plan` shows no changes:\n{cli_plan.stdout}{cli_plan.stderr}")


async def scenario_fault(binary, ws):
    """An injected fault: troubleshoot names the failed step and its code."""
    person = Person()
    async with stdio_session(binary, ws, person) as s:
        plan = sc(await call(s, "plan", {"source": DEV}))
        person.answers = [True]
        r = await call(s, "apply", {"plan_id": plan["plan_id"]})
        out = sc(r)
        check(out["outcome"] == "failed" and out["failed"], f"the apply failed: {out['headline']}")
        t = sc(await call(s, "troubleshoot"))
        steps = t["failed_steps"]
        check(steps and steps[0]["address"].startswith("docker.") and re.match(r"E06\d\d", steps[0]["code"]), f"troubleshoot names the failed step and its code: {steps}")
        check(any(steps[0]["address"] in n and steps[0]["code"] in n for n in t["next_steps"]), "and suggests what to do")
        check({h["name"] for h in t["servers"]} == {"aws", "docker"} and all(h["ok"] for h in t["servers"]), "both servers answer")
    journal = cli(binary, ws, "state", "audit").stdout
    check(f"{steps[0]['address']} failed: error[{steps[0]['code']}]" in journal, f"the journal keeps the failed step:\n{journal}")


async def scenario_http(binary, ws):
    import httpx2
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    env = dict(os.environ, MCPO_SERVE_TOKEN="tok-" + "x" * 20)
    # A port alone (0: any free one): the default address is 127.0.0.1, never all interfaces.
    proc = subprocess.Popen([binary, "serve", "--dir", ws, "--http", "0"], stderr=subprocess.PIPE, text=True, env=env)
    try:
        url = None
        for line in proc.stderr:
            m = re.search(r"(http://127\.0\.0\.1:\d+/mcp)", line)
            if m:
                url = m.group(1)
                break
        check(url is not None, "serve --http says where it listens")
        check(url.startswith("http://127.0.0.1:"), "it binds 127.0.0.1")
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "probe", "version": "1"}}}
        hdrs = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        async with httpx2.AsyncClient() as raw:
            r = await raw.post(url, json=init, headers=hdrs)
            check(r.status_code == 401, f"no token: 401 ({r.status_code})")
            r = await raw.post(url, json=init, headers={**hdrs, "Authorization": "Bearer wrong"})
            check(r.status_code == 401, f"a wrong token: 401 ({r.status_code})")
            good = {**hdrs, "Authorization": "Bearer " + env["MCPO_SERVE_TOKEN"]}
            r = await raw.post(url, json=init, headers={**good, "Host": "evil.example"})
            check(r.status_code == 403, f"a foreign Host: 403 ({r.status_code})")
            r = await raw.post(url, json=init, headers={**good, "Origin": "https://evil.example"})
            check(r.status_code == 403, f"a foreign Origin: 403 ({r.status_code})")
        person = Person()
        client = create_mcp_http_client(headers={"Authorization": "Bearer " + env["MCPO_SERVE_TOKEN"]})
        async with client:
            async with streamable_http_client(url, http_client=client) as (read, write):
                async with ClientSession(read, write, elicitation_callback=person) as s:
                    await s.initialize()
                    await tools_and_schemas(s)
                    check(not sc(await call(s, "check", {"source": BROKEN}))["ok"], "check over HTTP")
                    pid = sc(await call(s, "plan", {"source": DEV}))["plan_id"]
                    person.answers = [False]
                    check(code_of(await call(s, "apply", {"plan_id": pid})) == "E0639", "declined over HTTP")
                    person.answers = [True]
                    check(sc(await call(s, "apply", {"plan_id": pid}))["outcome"] == "applied", "applied over HTTP after approval")
                    check(len(sc(await call(s, "query"))["resources"]) == 2, "query over HTTP")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def scenario_config(binary, ws):
    """`--print-config`: each client's snippet, and the claude one starts a working server."""
    expected = {"claude": "mcpServers", "vscode": "servers", "cursor": "mcpServers"}
    entries = {}
    for client, key in expected.items():
        out = cli(binary, "/", "serve", "--dir", ws, "--print-config", client)
        check(out.returncode == 0 and out.stdout.startswith("// "), f"--print-config {client} prints a snippet")
        doc = json.loads(out.stdout.split("\n", 1)[1])
        entries[client] = doc[key]["mcpo"]
        check(entries[client]["args"] == ["serve", "--dir", os.path.realpath(ws)], f"{client}: serve this workspace, by its absolute path")
        check(os.path.isabs(entries[client]["command"]), f"{client}: the command is the absolute path of mcpoc")
    check(entries["vscode"].get("type") == "stdio", "VS Code's entry names the stdio transport")
    entry = entries["claude"]
    params = StdioServerParameters(command=entry["command"], args=entry["args"], env={"PATH": os.environ["PATH"]})
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as s:
            await s.initialize()
            await tools_and_schemas(s)
            pats = sc(await call(s, "list_patterns"))["patterns"]
            check("pci_shop" in {p["name"] for p in pats}, "the registered server serves the workspace")


async def scenario_runbook(binary, ws):
    """list_runbooks, then run_runbook: a dry run asks nothing and changes nothing; the run
    needs the person's approval, and so does its approval step; without a dialog the error
    gives the terminal command."""
    person = Person()
    async with stdio_session(binary, ws, person) as s:
        books = sc(await call(s, "list_runbooks"))["runbooks"]
        vol = next(b for b in books if b["name"] == "volume")
        check([(p["name"], p["type"], p["required"]) for p in vol["params"]] == [("name", "string", True), ("labels", "list(string)", False)],
              f"list_runbooks gives the params: {vol['params']}")
        check(vol["steps"] == ["listed", "confirm", "make", "read"], "list_runbooks gives the steps")

        dry = sc(await call(s, "run_runbook", {"name": "volume", "params": {"name": "data"}, "dry_run": True}))
        check(dry["dry_run"] and dry["outcome"] == "succeeded" and not person.shown, f"a dry run asks nothing: {dry['headline']}")
        check("data" not in json.dumps(next(st for st in dry["steps"] if st["name"] == "listed")["result"]), "no volume yet")

        bad = await call(s, "run_runbook", {"name": "volume", "params": {"nmae": "data"}})
        check(bad.is_error and code_of(bad) == "E0661" and "did you mean `name`" in text_of(bad) and not person.shown,
              f"a bad param is refused before anyone is asked (E0661): {text_of(bad)}")

        person.answers = [False]
        declined = await call(s, "run_runbook", {"name": "volume", "params": {"name": "data"}})
        check(declined.is_error and code_of(declined) == "E0639", "a declined run calls nothing (E0639)")
        check("runbook `volume`" in person.shown[-1] and 'name = "data"' in person.shown[-1], f"the person was shown the run: {person.shown[-1]}")

        person.answers = [True, False]
        stopped = sc(await call(s, "run_runbook", {"name": "volume", "params": {"name": "data", "labels": ["a", "b"]}}))
        check(stopped["outcome"] == "declined" and "make" in stopped["not_started"], f"a declined approval step stops the run: {stopped['headline']}")
        check("Make volume data (labels: a,b)?" in person.shown[-1], "the approval step's question was asked")

        person.answers = [True, True]
        ran = sc(await call(s, "run_runbook", {"name": "volume", "params": {"name": "data"}}))
        check(ran["outcome"] == "succeeded" and ran["approved_by"] == "elicitation" and ran["run_id"], f"approved twice, the run succeeds: {ran['headline']}")
        read = next(st for st in ran["steps"] if st["name"] == "read")
        check(read["status"] == "done" and read["result"].get("name") == "data", f"a later step read an earlier one's result: {read}")

        again = sc(await call(s, "run_runbook", {"name": "volume", "params": {"name": "x"}, "dry_run": True}))
        check("data" in json.dumps(next(st for st in again["steps"] if st["name"] == "listed")["result"]), "the volume is on the twin")

    cli_run = cli(binary, ws, "state", "list")
    check(cli_run.returncode == 0, "the state is readable after the runs")
    async with stdio_session(binary, ws, None) as s:
        blind = await call(s, "run_runbook", {"name": "volume", "params": {"name": "other"}})
        check(blind.is_error and code_of(blind) == "E0634" and "mcpoc run volume --param 'name=other'" in text_of(blind),
              "without an approval dialog the error gives the terminal command (E0634)")


YES = {"action": "accept", "content": {"approve": True}}
NO = {"action": "decline"}


def volumes(ws):
    """The volume names the Docker twin holds (its state file, as the twin saves it)."""
    path = os.path.join(ws, ".mcpo/twins/docker/docker.json")
    if not os.path.exists(path):
        return []
    with open(path) as fh:
        state = json.load(fh)
    return sorted(r["inputs"]["name"] for r in state["resources"].get("volume", {}).values())


def runs(ws):
    with open(os.path.join(ws, ".mcpo/state/state.json")) as fh:
        return json.load(fh)["runs"]


async def scenario_runbook_mrtr(binary, ws):
    """run_runbook for a 2026-07-28 client: the run and each approval step are one round
    trip of input_required each, and the same run goes on after each answer; a declined
    step compensates; a question left unanswered past --approval-timeout interrupts the run
    (the lock is released) and `mcpoc run --resume` finishes it from a terminal."""
    person = Person()
    async with stdio_session(binary, ws, person, discover=True) as s:
        books = {b["name"] for b in sc(await call(s, "list_runbooks"))["runbooks"]}
        check("keep" in books, f"list_runbooks lists `keep`: {books}")
        args = {"name": "keep", "params": {"name": "kept"}}

        def answer(r, reply):
            return s.call_tool("run_runbook", args, input_responses={key(r): reply},
                               request_state=r.request_state, allow_input_required=True)

        def key(r):
            (k, _), = r.input_requests.items()
            return k

        def question(r):
            (_, req), = r.input_requests.items()
            return req.params.message

        first = await s.call_tool("run_runbook", args, allow_input_required=True)
        check(isinstance(first, types.InputRequiredResult) and first.request_state,
              f"the run is asked for with input_required: {type(first).__name__}")
        check("Run runbook `keep`?" in question(first) and 'name = "kept"' in question(first),
              f"the question shows the runbook and its params: {question(first)}")
        forged = await s.call_tool("run_runbook", args, input_responses={key(first): YES},
                                   request_state="made-up", allow_input_required=True)
        check(forged.is_error and code_of(forged) == "E0642", f"a made-up request state is E0642: {text_of(forged)}")
        other = await s.call_tool("run_runbook", {"name": "keep", "params": {"name": "other"}},
                                  input_responses={key(first): YES}, request_state=first.request_state,
                                  allow_input_required=True)
        check(other.is_error and code_of(other) == "E0642" and "another call" in text_of(other),
              "a request state of another call is refused (E0642)")
        check(volumes(ws) == [], "nothing was called before the run was approved")

        step = await answer(first, YES)
        check(isinstance(step, types.InputRequiredResult), "approved, the run goes on to its approval step")
        check(step.request_state != first.request_state, "each question has its own request state")
        text = question(step)
        check("Keep volume kept?" in text and "No removes the volume" in text, f"the step's question and description: {text}")
        check("copy_ok (another approval), copy (docker::volume.create)" in text, f"and what approving it lets run: {text}")
        check(volumes(ws) == ["kept"], f"the steps before the approval ran: {volumes(ws)}")
        replay = await answer(first, YES)
        check(replay.is_error and code_of(replay) == "E0642", "an answered request state does not work twice (E0642)")

        held = cli(binary, ws, "run", "keep", "--param", "name=x", "--auto-approve")
        check(held.returncode != 0 and "lock" in (held.stderr + held.stdout).lower(),
              f"the waiting run holds the state lock: {held.stderr.strip()}")

        missing = await s.call_tool("run_runbook", args, input_responses={}, request_state=step.request_state,
                                    allow_input_required=True)
        check(isinstance(missing, types.InputRequiredResult) and "Keep volume kept?" in question(missing),
              "a retry without the answer is asked the same question again")

        copy = await answer(missing, YES)
        check(isinstance(copy, types.InputRequiredResult) and "Also make kept-copy?" in question(copy),
              "a second approval step is a second round trip")
        done = await answer(copy, YES)
        out = sc(done)
        check(not done.is_error and out["outcome"] == "succeeded" and out["approved_by"] == "elicitation",
              f"the run completes: {out['headline']}")
        check([st["name"] for st in out["steps"]] == ["make", "confirm", "copy_ok", "copy"],
              f"every step ran once, in one run: {[st['name'] for st in out['steps']]}")
        check(volumes(ws) == ["kept", "kept-copy"], f"the twin holds what the run made: {volumes(ws)}")
        run = runs(ws)[-1]
        check(run["id"] == out["run_id"] and run["status"] == "succeeded" and len(runs(ws)) == 1,
              f"one run in the journal: {[(r['id'], r['status']) for r in runs(ws)]}")

        args = {"name": "keep", "params": {"name": "gone"}}
        step = await answer(await s.call_tool("run_runbook", args, allow_input_required=True), YES)
        check("gone" in volumes(ws), "a second run made its volume")
        declined = await answer(step, NO)
        out = sc(declined)
        steps = {st["name"]: st for st in out["steps"]}
        check(out["outcome"] == "declined" and steps["confirm"]["status"] == "failed",
              f"declined: the approval step fails: {out['headline']}")
        check(steps["remove"]["status"] == "done" and "gone" not in volumes(ws),
              f"and its compensating step removed the volume: {volumes(ws)}")
        check(any(f["code"] == "E0639" for f in out["failed"]) and "copy" in out["not_started"],
              f"the decline is E0639 and nothing after it ran: {out['failed']}")

    async with stdio_session(binary, ws, person, discover=True, extra=("--approval-timeout", "2s")) as s:
        args = {"name": "keep", "params": {"name": "late"}}
        first = await s.call_tool("run_runbook", args, allow_input_required=True)
        (k, _), = first.input_requests.items()
        step = await s.call_tool("run_runbook", args, input_responses={k: YES}, request_state=first.request_state,
                                 allow_input_required=True)
        check(isinstance(step, types.InputRequiredResult), "the run waits on its approval step")
        await asyncio.sleep(4)
        late = await s.call_tool("run_runbook", args, input_responses={k: YES}, request_state=step.request_state,
                                 allow_input_required=True)
        check(late.is_error and code_of(late) == "E0642" and "mcpoc run keep --resume" in text_of(late),
              f"an answer after the timeout is E0642 and names the terminal command: {text_of(late)}")
        run = runs(ws)[-1]
        interrupted = run["id"]
        check(run["status"] == "cancelled" and run["steps"]["make"]["status"] == "done"
              and run["steps"]["confirm"]["status"] == "running",
              f"the run is journalled as interrupted at its approval step: {run['status']} {run['steps']}")

    resumed = cli(binary, ws, "run", "keep", "--resume", "--auto-approve")
    check(resumed.returncode == 0, f"the lock was released and --resume finishes the run: {resumed.stdout}{resumed.stderr}")
    check("step make: done in the interrupted run, not called again" in resumed.stdout,
          f"the step done before is not called again: {resumed.stdout}")
    check([v for v in volumes(ws) if v.startswith("late")] == ["late", "late-copy"],
          f"the twin holds the resumed run's volumes: {volumes(ws)}")
    check(runs(ws)[-1]["id"] == interrupted and runs(ws)[-1]["status"] == "succeeded",
          f"the same run is journalled as succeeded: {[(r['id'], r['status']) for r in runs(ws)]}")


SCENARIOS = {
    "runbook": scenario_runbook,
    "runbook_mrtr": scenario_runbook_mrtr,
    "config": scenario_config,
    "stdio": scenario_stdio,
    "mrtr": scenario_mrtr,
    "terminal": scenario_terminal,
    "seed": scenario_seed,
    "fault": scenario_fault,
    "http": scenario_http,
}


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in SCENARIOS:
        print(__doc__)
        return 2
    name, binary, ws = sys.argv[1:]
    asyncio.run(SCENARIOS[name](binary, ws))
    print(f"scenario {name}: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
