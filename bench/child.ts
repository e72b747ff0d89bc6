/**
 * One benchmark run in a fresh process: `node --expose-gc bench/.build/child.mjs '<RunSpec JSON>'` (run.ts compiles
 * this file and the clients with esbuild first, so that no loader runs beside the client).
 * Loads only the client under test, runs the case (warm-up included) and prints one
 * RESULT_PREFIX line with a RunResult. The orchestrator enforces the timeout by killing us.
 */
import { RESULT_PREFIX, type RunResult, type RunSpec } from "./cases.js";

async function runSpec(spec: RunSpec): Promise<RunResult> {
  switch (spec.client) {
    case "masq":
    case "masqtls":
    case "masqchrome":
    case "masqresumed":
    case "masqnr":
    case "masqh2":
      return (await import("./clients/masq.js")).run(spec);
    case "raw":
      return (await import("./clients/raw.js")).run(spec);
    case "ws":
    case "undici":
    case "wreq": {
      const { runEvented } = await import("./clients/evented.js");
      const mod =
        spec.client === "ws"
          ? await import("./clients/ws.js")
          : spec.client === "undici"
            ? await import("./clients/undici.js")
            : await import("./clients/wreq.js");
      return runEvented(mod.adapter, spec);
    }
  }
}

const spec = JSON.parse(process.argv[2] ?? "{}") as RunSpec;
let result: RunResult;
try {
  result = await runSpec(spec);
} catch (e) {
  const err = e as Error;
  result = { ok: false, error: `${err.name}: ${err.message}`.slice(0, 300) };
}
process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`, () => process.exit(result.ok ? 0 : 1));
