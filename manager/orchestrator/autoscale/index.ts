// The autoscaler (`--autoscale-*`): its decision arithmetic and its leader-only loop.
export { ConnectionRates, Stabiliser, recommendReplicas, type AutoscaleBounds } from './decide.js';
export { Autoscaler, autoscalerOptionsFromEnv, boundsOf, DEFAULT_AUTOSCALE_DOWN_WINDOW_MS, DEFAULT_AUTOSCALE_INTERVAL_MS, type AutoscalerOptions } from './loop.js';
