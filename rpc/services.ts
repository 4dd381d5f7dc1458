// Every baton gRPC service (proto/control.proto) as definitions built from the generated codecs.
import { baton } from '../proto/gen/baton.js';
import { serverStream, unary } from './define.js';

const CONTROL = 'baton.Control';
export const controlService = {
  GetNode: unary(CONTROL, 'GetNode', baton.GetRequest, baton.Node),
  ListNodes: unary(CONTROL, 'ListNodes', baton.ListRequest, baton.ListNodesResponse),
  UpdateNode: unary(CONTROL, 'UpdateNode', baton.UpdateNodeRequest, baton.Node),
  RemoveNode: unary(CONTROL, 'RemoveNode', baton.RemoveRequest, baton.RemoveResponse),
  GetCluster: unary(CONTROL, 'GetCluster', baton.Empty, baton.GetClusterResponse),
  RotateJoinToken: unary(CONTROL, 'RotateJoinToken', baton.RotateJoinTokenRequest, baton.GetClusterResponse),
  Info: unary(CONTROL, 'Info', baton.Empty, baton.ClusterInfo),
  AddRaftMember: unary(CONTROL, 'AddRaftMember', baton.RaftMemberRequest, baton.Empty),
  CreateService: unary(CONTROL, 'CreateService', baton.CreateServiceRequest, baton.Service),
  GetService: unary(CONTROL, 'GetService', baton.GetRequest, baton.Service),
  ListServices: unary(CONTROL, 'ListServices', baton.ListRequest, baton.ListServicesResponse),
  UpdateService: unary(CONTROL, 'UpdateService', baton.UpdateServiceRequest, baton.Service),
  RemoveService: unary(CONTROL, 'RemoveService', baton.RemoveRequest, baton.RemoveResponse),
  ListTasks: unary(CONTROL, 'ListTasks', baton.ListRequest, baton.ListTasksResponse),
  CreateSecret: unary(CONTROL, 'CreateSecret', baton.CreateSecretRequest, baton.Secret),
  GetSecret: unary(CONTROL, 'GetSecret', baton.GetRequest, baton.Secret),
  ListSecrets: unary(CONTROL, 'ListSecrets', baton.ListRequest, baton.ListSecretsResponse),
  RemoveSecret: unary(CONTROL, 'RemoveSecret', baton.RemoveRequest, baton.RemoveResponse),
  CreateConfig: unary(CONTROL, 'CreateConfig', baton.CreateConfigRequest, baton.Config),
  GetConfig: unary(CONTROL, 'GetConfig', baton.GetRequest, baton.Config),
  ListConfigs: unary(CONTROL, 'ListConfigs', baton.ListRequest, baton.ListConfigsResponse),
  RemoveConfig: unary(CONTROL, 'RemoveConfig', baton.RemoveRequest, baton.RemoveResponse),
};
export type ControlService = typeof controlService;

const CA = 'baton.CA';
export const caService = {
  GetRootCACertificate: unary(CA, 'GetRootCACertificate', baton.Empty, baton.RootCACertificate),
  Join: unary(CA, 'Join', baton.JoinRequest, baton.JoinResponse),
  Renew: unary(CA, 'Renew', baton.RenewRequest, baton.RenewResponse),
};
export type CAService = typeof caService;

const DISPATCHER = 'baton.Dispatcher';
export const dispatcherService = {
  Heartbeat: unary(DISPATCHER, 'Heartbeat', baton.HeartbeatRequest, baton.HeartbeatResponse),
  UpdateTaskStatus: unary(DISPATCHER, 'UpdateTaskStatus', baton.UpdateTaskStatusRequest, baton.Empty),
};
export type DispatcherService = typeof dispatcherService;

/** The dispatcher's streaming method, kept apart so unary handler maps stay exact. */
export const dispatcherSession = serverStream(DISPATCHER, 'Session', baton.SessionRequest, baton.SessionMessage);

/** Control's streaming method. */
export const serviceLogsMethod = serverStream(CONTROL, 'ServiceLogs', baton.ServiceLogsRequest, baton.LogLine);

/** What every node serves to managers. */
export const taskLogsMethod = serverStream('baton.NodeAgent', 'TaskLogs', baton.TaskLogsRequest, baton.LogLine);
