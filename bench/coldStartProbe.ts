import { join } from 'node:path';

/**
 * One cold start, in a fresh process (started by coldStart.ts with the app settings in its environment): load the
 * Functions entry as the host would (`@azure/functions` registers in test mode outside the host), then build the
 * runtime as the first invocation does (configuration parsed and validated, settings, Blob Storage, credentials,
 * SDK clients and drivers). Prints one JSON line: the times around both steps and the peak RSS.
 *
 *   node coldStartProbe.js <bundled|unbundled|baseline> <repository root> <storage stub port>
 */

type Mode = 'bundled' | 'unbundled' | 'baseline';
interface RuntimeModule {
  buildFunctionsRuntime(env: NodeJS.ProcessEnv): {
    status(): Promise<{ error?: string }>;
  };
}

async function main(): Promise<void> {
  const [mode, root, port] = process.argv.slice(2) as [Mode, string, string];
  const warn = console.warn;
  console.warn = () => undefined; // "@azure/functions … test mode" warnings, one per registration
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  let runtimeModule: RuntimeModule | undefined;
  if (mode === 'bundled') {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    runtimeModule = require(join(root, 'dist', 'bundle', 'functions.js')) as RuntimeModule;
  } else if (mode === 'unbundled') {
    // What "main": "dist/functions/*.js" loads.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require(join(root, 'dist', 'functions', 'reconcileHttp.js'));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require(join(root, 'dist', 'functions', 'reconcileTimer.js'));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    runtimeModule = require(join(root, 'dist', 'lib', 'runtime.js')) as RuntimeModule;
  }
  const loaded = process.hrtime.bigint();
  const runtime = runtimeModule?.buildFunctionsRuntime(process.env);
  const built = process.hrtime.bigint();
  const { user, system } = process.cpuUsage(cpu);
  const maxRssMB = process.resourceUsage().maxRSS / 1024;
  console.warn = warn;

  // Outside the measurement: the runtime must have started without error (a configuration or settings error is
  // kept and reported by status(), which reads the state from the storage stub: 404, no state yet).
  let error: string | undefined;
  if (runtime) {
    // Loaded only now, so the measurement does not find it already loaded.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { createServer } = require('node:http') as typeof import('node:http');
    const stub = createServer((_req, res) => {
      res.writeHead(404, { 'x-ms-error-code': 'BlobNotFound', 'content-type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="utf-8"?><Error><Code>BlobNotFound</Code></Error>');
    });
    await new Promise<void>((resolve) => stub.listen(Number(port), '127.0.0.1', resolve));
    try {
      error = (await runtime.status()).error;
    } catch (e) {
      error = (e as Error).message;
    }
    stub.close();
  }
  process.stdout.write(
    `${JSON.stringify({
      loadMs: Number(loaded - started) / 1e6,
      buildMs: Number(built - loaded) / 1e6,
      totalMs: Number(built - started) / 1e6,
      // CPU time (all threads: V8 compiles and collects garbage on helper threads too): less sensitive to other load
      cpuMs: (user + system) / 1000,
      maxRssMB,
      error,
    })}\n`,
  );
  // The Application Insights SDK keeps timers running: do not wait for them.
  process.exit(0);
}

void main();
