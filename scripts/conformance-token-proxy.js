// Forwards every request to `mcpoc serve --http` on 127.0.0.1, adding
// `Authorization: Bearer TOKEN` and keeping every header the client sent (Host and Origin
// included), so the conformance suite, which sends no credentials, can test a server that
// requires a token. Responses (SSE streams too) are piped through.
// Usage: node conformance-token-proxy.js LISTEN_PORT SERVE_LOG TOKEN
// SERVE_LOG is the file `mcpoc serve` writes its stderr to; the proxy waits for the
// address the server prints there. Once listening, the proxy prints its own URL
// (http://127.0.0.1:PORT/mcp) on stderr.
const fs = require("fs");
const http = require("http");
const [, , listenPort, serveLog, token] = process.argv;

function serverPort(deadline) {
  const text = fs.existsSync(serveLog) ? fs.readFileSync(serveLog, "utf8") : "";
  const m = text.match(/http:\/\/127\.0\.0\.1:(\d+)\/mcp/);
  if (m) return Promise.resolve(Number(m[1]));
  if (Date.now() > deadline) return Promise.reject(new Error(`no address in ${serveLog}:\n${text}`));
  return new Promise((r) => setTimeout(r, 100)).then(() => serverPort(deadline));
}

serverPort(Date.now() + 30000).then(
  (targetPort) => {
    const server = http.createServer((req, res) => {
      const headers = { ...req.headers, authorization: `Bearer ${token}` };
      const upstream = http.request(
        { host: "127.0.0.1", port: targetPort, method: req.method, path: req.url, headers },
        (answer) => {
          res.writeHead(answer.statusCode, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on("error", (e) => {
        res.writeHead(502);
        res.end(String(e));
      });
      req.pipe(upstream);
    });
    server.listen(Number(listenPort), "127.0.0.1", () => {
      console.error(`token proxy on http://127.0.0.1:${server.address().port}/mcp`);
    });
  },
  (e) => {
    console.error(String(e));
    process.exit(1);
  },
);
