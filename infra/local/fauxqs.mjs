// fauxqs (npm, MIT) on 127.0.0.1 only: its CLI listens on every interface.
// Run by pregon-local from .cache/fauxqs (where fauxqs is installed) as
// `node --experimental-sqlite start.mjs PORT`.
import { buildApp } from "fauxqs";

const port = Number(process.argv[2] || 0);
const app = buildApp({ logger: false });
await app.listen({ port, host: "127.0.0.1" });
console.log(`fauxqs listening on http://127.0.0.1:${app.server.address().port}`);
