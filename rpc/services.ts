// Every baton gRPC service (the public Control of proto/control.proto; CA, Dispatcher and
// NodeAgent of proto/internal.proto) as definitions built from the generated codecs.
import { baton } from '../proto/gen/baton.js';
import { limitRequest, serverStream, unary } from './define.js';
import { CONTROL_MESSAGE_BYTES } from './limits.js';

const CONTROL = 'baton.Control';
/**
 * A method whose requests are held to CONTROL_MESSAGE_BYTES on every port: every unary method.
 * Only Raft needs the node port's larger limit; the CA's Join is called before the caller has a
 * certificate, so an unauthenticated peer must not make a manager buffer 64 MiB either.
 */
const limited: typeof unary = (service, name, request, response) => limitRequest(unary(service, name, request, response), CONTROL_MESSAGE_BYTES);
export const controlService = {
  GetNode: limited(CONTROL, 'GetNode', baton.GetRequest, baton.Node),
  ListNodes: limited(CONTROL, 'ListNodes', baton.ListRequest, baton.ListNodesResponse),
  UpdateNode: limited(CONTROL, 'UpdateNode', baton.UpdateNodeRequest, baton.Node),
  RemoveNode: limited(CONTROL, 'RemoveNode', baton.RemoveRequest, baton.RemoveResponse),
  GetCluster: limited(CONTROL, 'GetCluster', baton.Empty, baton.GetClusterResponse),
  RotateJoinToken: limited(CONTROL, 'RotateJoinToken', baton.RotateJoinTokenRequest, baton.GetClusterResponse),
  Info: limited(CONTROL, 'Info', baton.Empty, baton.ClusterInfo),
  UpdateCluster: limited(CONTROL, 'UpdateCluster', baton.UpdateClusterRequest, baton.UnlockKeyResponse),
  GetUnlockKey: limited(CONTROL, 'GetUnlockKey', baton.Empty, baton.UnlockKeyResponse),
  RotateUnlockKey: limited(CONTROL, 'RotateUnlockKey', baton.Empty, baton.UnlockKeyResponse),
  Unlock: limited(CONTROL, 'Unlock', baton.UnlockRequest, baton.Empty),
  AddRaftMember: limited(CONTROL, 'AddRaftMember', baton.RaftMemberRequest, baton.Empty),
  CreateService: limited(CONTROL, 'CreateService', baton.CreateServiceRequest, baton.Service),
  GetService: limited(CONTROL, 'GetService', baton.GetRequest, baton.Service),
  ListServices: limited(CONTROL, 'ListServices', baton.ListRequest, baton.ListServicesResponse),
  UpdateService: limited(CONTROL, 'UpdateService', baton.UpdateServiceRequest, baton.Service),
  RemoveService: limited(CONTROL, 'RemoveService', baton.RemoveRequest, baton.RemoveResponse),
  CheckImages: limited(CONTROL, 'CheckImages', baton.CheckImagesRequest, baton.Empty),
  ListTasks: limited(CONTROL, 'ListTasks', baton.ListRequest, baton.ListTasksResponse),
  CreateSecret: limited(CONTROL, 'CreateSecret', baton.CreateSecretRequest, baton.Secret),
  GetSecret: limited(CONTROL, 'GetSecret', baton.GetRequest, baton.Secret),
  ListSecrets: limited(CONTROL, 'ListSecrets', baton.ListRequest, baton.ListSecretsResponse),
  RemoveSecret: limited(CONTROL, 'RemoveSecret', baton.RemoveRequest, baton.RemoveResponse),
  CreateConfig: limited(CONTROL, 'CreateConfig', baton.CreateConfigRequest, baton.Config),
  GetConfig: limited(CONTROL, 'GetConfig', baton.GetRequest, baton.Config),
  ListConfigs: limited(CONTROL, 'ListConfigs', baton.ListRequest, baton.ListConfigsResponse),
  RemoveConfig: limited(CONTROL, 'RemoveConfig', baton.RemoveRequest, baton.RemoveResponse),
  CreateNetwork: limited(CONTROL, 'CreateNetwork', baton.CreateNetworkRequest, baton.Network),
  GetNetwork: limited(CONTROL, 'GetNetwork', baton.GetRequest, baton.Network),
  ListNetworks: limited(CONTROL, 'ListNetworks', baton.ListRequest, baton.ListNetworksResponse),
  RemoveNetwork: limited(CONTROL, 'RemoveNetwork', baton.RemoveRequest, baton.RemoveResponse),
  ListVolumes: limited(CONTROL, 'ListVolumes', baton.ListVolumesRequest, baton.ListVolumesResponse),
  RemoveVolume: limited(CONTROL, 'RemoveVolume', baton.RemoveVolumeRequest, baton.RemoveVolumeResponse),
  CreateVolume: limited(CONTROL, 'CreateVolume', baton.CreateVolumeRequest, baton.CreateVolumeResponse),
  PruneVolumes: limited(CONTROL, 'PruneVolumes', baton.PruneVolumesRequest, baton.PruneVolumesResponse),
  CreateCertificate: limited(CONTROL, 'CreateCertificate', baton.CreateCertificateRequest, baton.CreateCertificateResponse),
  ListCertificates: limited(CONTROL, 'ListCertificates', baton.ListRequest, baton.ListCertificatesResponse),
  RemoveCertificate: limited(CONTROL, 'RemoveCertificate', baton.RemoveRequest, baton.RemoveResponse),
};
export type ControlService = typeof controlService;

const CA = 'baton.internal.CA';
export const caService = {
  GetRootCACertificate: limited(CA, 'GetRootCACertificate', baton.Empty, baton.internal.RootCACertificate),
  Join: limited(CA, 'Join', baton.internal.JoinRequest, baton.internal.JoinResponse),
  Renew: limited(CA, 'Renew', baton.internal.RenewRequest, baton.internal.RenewResponse),
};
export type CAService = typeof caService;

const DISPATCHER = 'baton.internal.Dispatcher';
export const dispatcherService = {
  Heartbeat: limited(DISPATCHER, 'Heartbeat', baton.internal.HeartbeatRequest, baton.internal.HeartbeatResponse),
  UpdateTaskStatus: limited(DISPATCHER, 'UpdateTaskStatus', baton.internal.UpdateTaskStatusRequest, baton.Empty),
};
export type DispatcherService = typeof dispatcherService;

/** The dispatcher's streaming method, kept apart so unary handler maps stay exact. */
export const dispatcherSession = serverStream(DISPATCHER, 'Session', baton.internal.SessionRequest, baton.internal.SessionMessage);

/** Control's streaming method. */
export const serviceLogsMethod = limitRequest(serverStream(CONTROL, 'ServiceLogs', baton.ServiceLogsRequest, baton.LogLine), CONTROL_MESSAGE_BYTES);

/** Control's event stream (manager/controlapi/events.ts). */
export const eventsMethod = limitRequest(serverStream(CONTROL, 'Events', baton.EventsRequest, baton.Event), CONTROL_MESSAGE_BYTES);

/** Control's backup stream (manager/controlapi/backup.ts). */
export const backupMethod = limitRequest(serverStream(CONTROL, 'Backup', baton.BackupRequest, baton.BackupChunk), CONTROL_MESSAGE_BYTES);

const NODE_AGENT = 'baton.internal.NodeAgent';
/** What every node serves to managers. */
export const taskLogsMethod = serverStream(NODE_AGENT, 'TaskLogs', baton.internal.TaskLogsRequest, baton.LogLine);

/** NodeAgent's unary methods (TaskLogs, a stream, is apart): a node's volumes, asked by managers. */
export const nodeAgentService = {
  ListVolumes: limited(NODE_AGENT, 'ListVolumes', baton.ListVolumesRequest, baton.ListVolumesResponse),
  RemoveVolume: limited(NODE_AGENT, 'RemoveVolume', baton.RemoveVolumeRequest, baton.RemoveVolumeResponse),
  CreateVolume: limited(NODE_AGENT, 'CreateVolume', baton.CreateVolumeRequest, baton.CreateVolumeResponse),
  PruneVolumes: limited(NODE_AGENT, 'PruneVolumes', baton.PruneVolumesRequest, baton.PruneVolumesResponse),
};
export type NodeAgentService = typeof nodeAgentService;
