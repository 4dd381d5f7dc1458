// The dispatcher: heartbeats, sessions and task status, served by every manager and
// acted on by the leader.
export { Heartbeats, DEFAULT_HEARTBEAT_GRACE, DEFAULT_HEARTBEAT_PERIOD_MS, DEFAULT_MAX_HEARTBEATS_PER_SECOND, scaledPeriodMs, silenceAllowedMs, type HeartbeatSettings, type DispatcherHost, type HeartbeatDeps } from './heartbeats.js';
export { Sessions, type SessionDeps, type SessionLiveness } from './sessions.js';
