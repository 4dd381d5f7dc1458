// A small gRPC reflection client (what grpcurl does first): asks a server's
// grpc.reflection.v1.ServerReflection for its services and for the file that defines a symbol,
// and decodes the descriptors it sends with protobufjs' descriptor types.
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import { reflectedDefinition } from '../../rpc/reflection.js';

type Request = Record<string, unknown>;
type Response = {
  listServicesResponse?: { service: { name: string }[] };
  fileDescriptorResponse?: { fileDescriptorProto: Buffer[] };
  errorResponse?: { errorCode: number; errorMessage: string };
};

export interface FileDescriptor {
  name: string;
  package: string;
  service: { name: string; method: { name: string; inputType: string; outputType: string; serverStreaming?: boolean }[] }[];
  messageType: { name: string }[];
}

/** One reflection exchange per request over one stream, as the tools do. */
export async function reflect(target: string, creds: grpc.ChannelCredentials, requests: Request[], options: grpc.ChannelOptions = {}, version: 'v1' | 'v1alpha' = 'v1'): Promise<Response[]> {
  // The server's own definition holds the reflection service's messages (proto-loader's codecs,
  // camelCase fields).
  const def = reflectedDefinition()['grpc.reflection.v1.ServerReflection'] as grpc.ServiceDefinition;
  const method = def['ServerReflectionInfo']!;
  const client = new grpc.Client(target, creds, options);
  try {
    const call = client.makeBidiStreamRequest(method.path.replace('.v1.', `.${version}.`), method.requestSerialize, method.responseDeserialize, new grpc.Metadata(), { deadline: Date.now() + 10_000 });
    const out: Response[] = [];
    const done = new Promise<Response[]>((resolve, reject) => {
      call.on('data', (r: Response) => {
        out.push(r);
        if (out.length === requests.length) call.end();
      });
      call.on('end', () => resolve(out));
      call.on('error', reject);
    });
    for (const r of requests) call.write(r);
    return await done;
  } finally {
    client.close();
  }
}

export function decodeFiles(r: Response): FileDescriptor[] {
  const type = (descriptor as unknown as { FileDescriptorProto: protobuf.Type }).FileDescriptorProto;
  return (r.fileDescriptorResponse?.fileDescriptorProto ?? []).map((b) => type.toObject(type.decode(b), { defaults: false }) as FileDescriptor);
}

