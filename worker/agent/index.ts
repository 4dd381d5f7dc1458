// The worker agent: assignments in, executor actions and task status reports out.
export { Agent, type AgentOptions, type Runtime } from './agent.js';
