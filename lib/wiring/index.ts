/** The composition root's public face: what the CLI, the Functions app, the tests and the benchmarks build. */
export {
  checkSettings,
  createReconciler,
  systemClock,
  type Reconciler,
  type Tuning,
  type WiringOptions,
} from './reconciler';
export { armEndpointOf, cloudflareBaseUrlOf } from './transports';
export { recorderFromEnvironment } from './telemetry';
export {
  buildFunctionsRuntime,
  createRuntime,
  functionsRuntime,
  type FunctionsRuntime,
  type RunRequest,
  type RunResponse,
  type RuntimeOverrides,
  type RuntimeParts,
  type StatusDocument,
} from './runtime';
