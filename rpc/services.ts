// Every baton gRPC service (proto/control.proto) as definitions built from the generated codecs.
import { baton } from '../proto/gen/baton.js';
import { limitRequest, serverStream, unary } from './define.js';
import { CONTROL_MESSAGE_BYTES } from './limits.js';

const CONTROL = 'baton.Control';
/**
 * A method whose requests are held to CONTROL_MESSAGE_BYTES on every port: every unary method.
 * Only Raft needs the node port's larger limit; the CA's Join is called before the caller has a
 * certificate, so an unauthenticated peer must not make a manager buffer 64 MiB either.
 */
const control: typeof unary = (service, name, request, response) => limitRequest(unary(service, name, request, response), CONTROL_MESSAGE_BYTES);
export const controlService = {
  GetNode: control(CONTROL, 'GetNode', baton.GetRequest, baton.Node),
  ListNodes: control(CONTROL, 'ListNodes', baton.ListRequest, baton.ListNodesResponse),
  UpdateNode: control(CONTROL, 'UpdateNode', baton.UpdateNodeRequest, baton.Node),
  RemoveNode: control(CONTROL, 'RemoveNode', baton.RemoveRequest, baton.RemoveResponse),
  GetCluster: control(CONTROL, 'GetCluster', baton.Empty, baton.GetClusterResponse),
  RotateJoinToken: control(CONTROL, 'RotateJoinToken', baton.RotateJoinTokenRequest, baton.GetClusterResponse),
  Info: control(CONTROL, 'Info', baton.Empty, baton.ClusterInfo),
  AddRaftMember: control(CONTROL, 'AddRaftMember', baton.RaftMemberRequest, baton.Empty),
  CreateService: control(CONTROL, 'CreateService', baton.CreateServiceRequest, baton.Service),
  GetService: control(CONTROL, 'GetService', baton.GetRequest, baton.Service),
  ListServices: control(CONTROL, 'ListServices', baton.ListRequest, baton.ListServicesResponse),
  UpdateService: control(CONTROL, 'UpdateService', baton.UpdateServiceRequest, baton.Service),
  RemoveService: control(CONTROL, 'RemoveService', baton.RemoveRequest, baton.RemoveResponse),
  ListTasks: control(CONTROL, 'ListTasks', baton.ListRequest, baton.ListTasksResponse),
  CreateSecret: control(CONTROL, 'CreateSecret', baton.CreateSecretRequest, baton.Secret),
  GetSecret: control(CONTROL, 'GetSecret', baton.GetRequest, baton.Secret),
  ListSecrets: control(CONTROL, 'ListSecrets', baton.ListRequest, baton.ListSecretsResponse),
  RemoveSecret: control(CONTROL, 'RemoveSecret', baton.RemoveRequest, baton.RemoveResponse),
  CreateConfig: control(CONTROL, 'CreateConfig', baton.CreateConfigRequest, baton.Config),
  GetConfig: control(CONTROL, 'GetConfig', baton.GetRequest, baton.Config),
  ListConfigs: control(CONTROL, 'ListConfigs', baton.ListRequest, baton.ListConfigsResponse),
  RemoveConfig: control(CONTROL, 'RemoveConfig', baton.RemoveRequest, baton.RemoveResponse),
};
export type ControlService = typeof controlService;

const CA = 'baton.CA';
export const caService = {
  GetRootCACertificate: control(CA, 'GetRootCACertificate', baton.Empty, baton.RootCACertificate),
  Join: control(CA, 'Join', baton.JoinRequest, baton.JoinResponse),
  Renew: control(CA, 'Renew', baton.RenewRequest, baton.RenewResponse),
};
export type CAService = typeof caService;

const DISPATCHER = 'baton.Dispatcher';
export const dispatcherService = {
  Heartbeat: control(DISPATCHER, 'Heartbeat', baton.HeartbeatRequest, baton.HeartbeatResponse),
  UpdateTaskStatus: control(DISPATCHER, 'UpdateTaskStatus', baton.UpdateTaskStatusRequest, baton.Empty),
};
export type DispatcherService = typeof dispatcherService;

/** The dispatcher's streaming method, kept apart so unary handler maps stay exact. */
export const dispatcherSession = serverStream(DISPATCHER, 'Session', baton.SessionRequest, baton.SessionMessage);

/** Control's streaming method. */
export const serviceLogsMethod = limitRequest(serverStream(CONTROL, 'ServiceLogs', baton.ServiceLogsRequest, baton.LogLine), CONTROL_MESSAGE_BYTES);

/** What every node serves to managers. */
export const taskLogsMethod = serverStream('baton.NodeAgent', 'TaskLogs', baton.TaskLogsRequest, baton.LogLine);
