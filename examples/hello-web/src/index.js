// A tiny web server: answers every request with a greeting, the host name and the build info.
const http = require('node:http');
const fs = require('node:fs');
const os = require('node:os');

const port = Number(process.env.PORT || 8080);
let buildInfo = {};
try {
  buildInfo = JSON.parse(fs.readFileSync('/app/build-info.json', 'utf8'));
} catch {
  // built without the install step: serve without build info
}

const server = http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(`${JSON.stringify({ message: 'Hello from Wharf!', host: os.hostname(), path: req.url, ...buildInfo })}\n`);
});
server.listen(port, () => console.log(`hello-web listening on port ${port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
