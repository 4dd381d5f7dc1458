// The node's networks (docs/networking.md): its Docker bridges for baton networks, the DNS
// server on each, and the manager that keeps both in step with the session.
export { NodeNetworks, type InternalListener, type NodeNetworksOptions, type TaskAttachment } from './manager.js';
export { NodeBridges, type NodeBridgesOptions } from './bridges.js';
export { nodeResolvers } from './resolv-conf.js';
export { VipNat, vipNatWanted, type VipNatOptions, type VipNatRule } from './vip-nat.js';
